import { getAddress, isAddress, parseUnits } from 'viem'
import { AIRDROP_AMOUNT_PATTERN, AIRDROP_MAX_RECIPIENTS } from '../../../src/shared/protocol/airdrop'

export interface AirdropLine {
  address: string
  amount: string
}

const AMOUNT = new RegExp(AIRDROP_AMOUNT_PATTERN)

/**
 * Reads "address, amount" lines (comma, space or tab between them; blank lines skipped) with the server's
 * rules: an address, a positive amount with at most 18 decimals, no address twice, at most 500.
 */
export function parseAirdrop(text: string): {
  recipients: AirdropLine[]
  total: bigint
  error: string | null
} {
  const recipients: AirdropLine[] = []
  const seen = new Set<string>()
  let total = 0n
  const lines = text.split('\n')
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (!line) continue
    const [address = '', amount = '', ...rest] = line.split(/[\s,;]+/)
    const at = `Line ${i + 1}`
    if (rest.length > 0 || !amount) return fail(`${at}: write an address, then an amount.`)
    if (!isAddress(address)) return fail(`${at}: ${address} is not an address.`)
    if (!AMOUNT.test(amount)) return fail(`${at}: the amount is a positive number like 10 or 0.5.`)
    const value = parseUnits(amount, 18)
    if (value === 0n) return fail(`${at}: the amount must be more than 0.`)
    const key = address.toLowerCase()
    if (seen.has(key)) return fail(`${at}: ${address} is listed twice.`)
    seen.add(key)
    total += value
    recipients.push({ address: getAddress(address), amount })
  }
  if (recipients.length === 0) return fail('Add at least one recipient.')
  if (recipients.length > AIRDROP_MAX_RECIPIENTS) return fail(`At most ${AIRDROP_MAX_RECIPIENTS} recipients.`)
  return { recipients, total, error: null }
}

const fail = (error: string) => ({ recipients: [], total: 0n, error })
