import { formatUnits } from 'viem'
import { TOKEN_DECIMALS } from '../../../src/shared/protocol/tokenRules'

export const shortAddress = (address: string) =>
  address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address

export const shortHash = (hash: string) =>
  hash.length > 14 ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : hash

/** A whole number of any size, grouped: 1000000 → "1,000,000". */
export function formatWhole(value: string | bigint): string {
  try {
    return BigInt(value).toLocaleString('en-US')
  } catch {
    return String(value)
  }
}

/** Base units → a readable amount: grouped whole part, at most `digits` decimals, trailing zeros dropped. */
export function formatAmount(value: bigint, decimals = TOKEN_DECIMALS, digits = 4): string {
  const [whole = '0', fraction = ''] = formatUnits(value, decimals).split('.')
  const cut = fraction.slice(0, digits).replace(/0+$/, '')
  if (value > 0n && whole === '0' && cut === '') return `< 0.${'0'.repeat(digits - 1)}1`
  return `${formatWhole(whole)}${cut ? `.${cut}` : ''}`
}

/** viem's errors carry a one-line `shortMessage`; wallets reject with code 4001. */
export function errorMessage(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { code?: number; shortMessage?: string; message?: string; cause?: { code?: number } }
    if (e.code === 4001 || e.cause?.code === 4001) return 'You rejected the request in your wallet.'
    if (e.shortMessage) return e.shortMessage
    if (e.message) return e.message
  }
  return String(error)
}
