import { getAddress } from 'viem'
import type { ErrorReporter } from '../errors'
import type { Clock } from '../time/clock'

export interface HolderWatch<M> {
  /** `member` is in `holders:<token>` as `address`. */
  track(member: M, token: string, address: string): void
  untrack(member: M, token: string, address: string): void
  /** Reads the balance of `address` in `token` now (the transfer watcher saw it change), if anyone here needs it. */
  check(token: string, address: string): void
  start(): void
  stop(): void
}

/** Balances read at once by a re-check. */
const CONCURRENCY = 8
const key = (token: string, address: string) => `${token}|${address}`

/**
 * The holders' rooms' right kept: every `intervalMs` (at least once a minute, by the contract) the balance of
 * each address in each token someone here is subscribed as is read again, once per pair however many
 * connections share it; a holder at zero loses every such subscription (`onLost`). A balance that cannot be
 * read is reported and the right kept until the next pass. A background loop that never throws.
 */
export function createHolderWatch<M>(deps: {
  holds(token: string, address: string): Promise<boolean>
  onLost(member: M, token: string): void
  clock: Clock
  onError: ErrorReporter
  intervalMs: number
}): HolderWatch<M> {
  const { clock, onError } = deps
  const pairs = new Map<string, { token: string; address: string; members: Set<M> }>()
  let cancel: (() => void) | null = null
  let active = false

  const recheck = async (keys: string[]) => {
    for (let i = 0; i < keys.length; i += CONCURRENCY) {
      await Promise.all(
        keys.slice(i, i + CONCURRENCY).map(async (pairKey) => {
          const pair = pairs.get(pairKey)
          if (!pair) return
          let holds: boolean
          try {
            holds = await deps.holds(pair.token, pair.address)
          } catch (error) {
            onError(error, `re-checking the balance of ${pair.address} in ${pair.token}`)
            return
          }
          if (!holds) for (const member of [...pair.members]) deps.onLost(member, pair.token)
        }),
      )
    }
  }

  const schedule = () => {
    cancel = clock.schedule(() => {
      cancel = null
      void recheck([...pairs.keys()])
        .catch((error) => onError(error, "re-checking holders' balances"))
        .finally(() => {
          if (active && !cancel) schedule()
        })
    }, deps.intervalMs)
  }

  return {
    track(member, token, address) {
      const pairKey = key(token, address)
      let pair = pairs.get(pairKey)
      if (!pair) {
        pair = { token, address, members: new Set() }
        pairs.set(pairKey, pair)
      }
      pair.members.add(member)
    },
    untrack(member, token, address) {
      const pairKey = key(token, address)
      const pair = pairs.get(pairKey)
      pair?.members.delete(member)
      if (pair?.members.size === 0) pairs.delete(pairKey)
    },
    check(token, address) {
      let pairKey: string
      try {
        pairKey = key(getAddress(token), getAddress(address))
      } catch {
        return
      }
      if (pairs.has(pairKey))
        void recheck([pairKey]).catch((error) => onError(error, `re-checking ${pairKey}`))
    },
    start() {
      if (active) return
      active = true
      schedule()
    },
    stop() {
      active = false
      cancel?.()
      cancel = null
    },
  }
}
