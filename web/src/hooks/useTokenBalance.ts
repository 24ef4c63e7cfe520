import { useEffect, useState } from 'react'
import type { Address } from 'viem'
import { readContract } from 'viem/actions'
import { heraldTokenAbi } from '../../../src/shared/contracts/heraldTokenAbi'
import { useApp } from '../AppContext'

/** `owner`'s balance of an ERC-20, read from the chain; read again whenever `version` changes. */
export function useTokenBalance(token: string, owner: Address | undefined, version: number) {
  const { publicClient } = useApp()
  const [balance, setBalance] = useState<bigint | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    if (!publicClient || !owner) return
    let active = true
    // `version` is the trigger: a transfer of this token happened.
    void version
    readContract(publicClient, {
      address: token as Address,
      abi: heraldTokenAbi,
      functionName: 'balanceOf',
      args: [owner],
    }).then(
      (value) => {
        if (!active) return
        setBalance(value)
        setError(null)
      },
      () => {
        if (active) setError('Balance unavailable')
      },
    )
    return () => {
      active = false
    }
  }, [publicClient, token, owner, version])
  return { balance, error }
}
