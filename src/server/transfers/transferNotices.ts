import { formatUnits } from 'viem'
import { TRANSFER_REVERTED } from '../../shared/protocol'
import type { TransferRow } from '../db/schema'

const short = (address: string) => `${address.slice(0, 6)}…${address.slice(-4)}`

/**
 * The `data` of a transfer notification (docs/protocol.md §3 and §8): ERC-20 transfers carry `value` (base
 * units) and `amount` (in whole tokens, by the contract's decimals), ERC-721 transfers `tokenId`.
 */
export function transferNoticeData(row: TransferRow) {
  const common = {
    token: row.tokenAddress,
    symbol: row.symbol,
    standard: row.standard,
    from: row.fromAddress,
    to: row.toAddress,
  }
  const where = { txHash: row.txHash, logIndex: row.logIndex, blockNumber: row.blockNumber }
  if (row.standard === 'erc721') return { ...common, tokenId: row.tokenId ?? '0', ...where }
  const value = row.value ?? '0'
  // A contract without decimals() counts in base units.
  return { ...common, value, amount: formatUnits(BigInt(value), row.decimals ?? 0), ...where }
}

/** "5 WATCH", or "WATCH #7" for an ERC-721; a contract without a symbol is named by its address. */
function what(row: TransferRow): string {
  const symbol = row.symbol ?? short(row.tokenAddress)
  if (row.standard === 'erc721') return `${symbol} #${row.tokenId}`
  return `${formatUnits(BigInt(row.value ?? '0'), row.decimals ?? 0)} ${symbol}`
}

export type TransferSide = 'received' | 'sent'

/** The notification one party gets when a transfer is confirmed. */
export function confirmedNotice(row: TransferRow, side: TransferSide) {
  return side === 'received'
    ? {
        type: 'token_transfer_received',
        title: `Received ${what(row)}`,
        message: `From ${row.fromAddress}.`,
        data: transferNoticeData(row),
      }
    : {
        type: 'token_transfer_sent',
        title: `Sent ${what(row)}`,
        message: `To ${row.toAddress}.`,
        data: transferNoticeData(row),
      }
}

/** The notice that takes back `original` (this party's notification of the transfer). */
export function revertedNotice(row: TransferRow, side: TransferSide, original: number) {
  const direction = side === 'received' ? `from ${row.fromAddress}` : `to ${row.toAddress}`
  return {
    type: TRANSFER_REVERTED,
    title: `Reverted: ${what(row)} ${side === 'received' ? 'received' : 'sent'}`,
    message: `A chain reorganisation removed this transfer ${direction} after its confirmations; it is no longer on the chain. You will be told again if a block includes it.`,
    data: { ...transferNoticeData(row), revertsNotificationId: String(original) },
  }
}
