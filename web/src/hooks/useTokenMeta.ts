import { useEffect, useState } from 'react'
import { type Address, parseAbi } from 'viem'
import { readContract } from 'viem/actions'
import { useApp } from '../AppContext'
import type { ChainClient } from '../lib/chain'

export interface TokenMeta {
  /** Null when the contract has no symbol(). */
  symbol: string | null
  /** ERC-20 decimals (0 when the contract has no decimals()); null for ERC-721. */
  decimals: number | null
}

const metaAbi = parseAbi([
  'function symbol() view returns (string)',
  'function decimals() view returns (uint8)',
])

// Read once per contract for the life of the page: a token's symbol and decimals do not change.
const known = new Map<string, Promise<TokenMeta>>()

function readMeta(client: ChainClient, token: Address, withDecimals: boolean): Promise<TokenMeta> {
  const key = `${token.toLowerCase()}:${withDecimals}`
  let meta = known.get(key)
  if (!meta) {
    const symbol = readContract(client, { address: token, abi: metaAbi, functionName: 'symbol' }).catch(
      () => null,
    )
    const decimals = withDecimals
      ? readContract(client, { address: token, abi: metaAbi, functionName: 'decimals' }).catch(() => 0)
      : Promise.resolve(null)
    meta = Promise.all([symbol, decimals]).then(([s, d]) => ({ symbol: s, decimals: d }))
    known.set(key, meta)
  }
  return meta
}

/** A watched token's symbol and decimals, read from the chain (null until read, or without a chain). */
export function useTokenMeta(token: string, standard: 'erc20' | 'erc721'): TokenMeta | null {
  const { publicClient } = useApp()
  const [meta, setMeta] = useState<TokenMeta | null>(null)
  useEffect(() => {
    if (!publicClient) return
    let active = true
    readMeta(publicClient, token as Address, standard === 'erc20').then((m) => active && setMeta(m))
    return () => {
      active = false
    }
  }, [publicClient, token, standard])
  return meta
}
