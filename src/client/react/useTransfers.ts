import { useCallback, useEffect, useState } from 'react'
import type { Transfer } from '../sdk'
import { mergeTransfers } from './transfersState'
import { useHeraldClient } from './useHeraldClient'

export interface UseTransfersOptions {
  /** Only this token's transfers (an address, any case). */
  token?: string
  /** How many to fetch (1–100, default 20); live ones are added on top. */
  limit?: number
}

export interface UseTransfersResult {
  /** The signed-in user's transfers, newest first, each as it stands now (included, confirmed, reorged). */
  transfers: Transfer[]
  /** How many confirmations make a transfer final on this server (null until known). */
  requiredConfirmations: number | null
  loading: boolean
  error: Error | null
  reload(): void
}

/**
 * The user's transfers of watched tokens, live: GET /api/transfers, then every `data_update` of entity
 * `transfer` (included → n/N confirmations → confirmed, or reorged). Updates are not replayed after a
 * reconnection, so the list is fetched again on `resumed`.
 */
export function useTransfers(options: UseTransfersOptions = {}): UseTransfersResult {
  const client = useHeraldClient()
  const { token, limit } = options
  // Kept with the token they are of, so switching tokens starts from that token's page.
  const key = token?.toLowerCase() ?? ''
  const [list, setList] = useState<{ key: string; transfers: Transfer[] }>({ key, transfers: [] })
  const [requiredConfirmations, setRequired] = useState<number | null>(null)
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState<Error | null>(null)
  const [version, setVersion] = useState(0)
  const reload = useCallback(() => setVersion((v) => v + 1), [])

  useEffect(() => {
    let active = true
    client.api.chain.info().then(
      (info) => active && setRequired(info.requiredConfirmations),
      () => {},
    )
    return () => {
      active = false
    }
  }, [client])

  useEffect(() => {
    let active = true
    void version
    setLoading(true)
    client.api.transfers.list({ token, limit }).then(
      (page) => {
        if (!active) return
        setList((current) =>
          current.key === key
            ? { key, transfers: mergeTransfers(current.transfers, page.transfers) }
            : { key, transfers: mergeTransfers([], page.transfers) },
        )
        setError(null)
        setLoading(false)
      },
      (e: unknown) => {
        if (!active) return
        setError(e instanceof Error ? e : new Error(String(e)))
        setLoading(false)
      },
    )
    return () => {
      active = false
    }
  }, [client, token, key, limit, version])

  useEffect(() => {
    const offUpdate = client.on('data_update', (message) => {
      if (message.entity !== 'transfer') return
      const transfer = message.data as Transfer
      if (key && transfer.token.toLowerCase() !== key) return
      setList((current) =>
        current.key === key ? { key, transfers: mergeTransfers(current.transfers, [transfer]) } : current,
      )
    })
    const offResumed = client.on('resumed', reload)
    return () => {
      offUpdate()
      offResumed()
    }
  }, [client, key, reload])

  const transfers = list.key === key ? list.transfers : []
  return { transfers, requiredConfirmations, loading, error, reload }
}
