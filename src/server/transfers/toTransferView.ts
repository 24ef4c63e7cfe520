import type { Transfer } from '../../shared/protocol'
import type { TransferRow } from '../db/schema'

/** A stored transfer as the wire shows it (docs/protocol.md §8): `value` for ERC-20, `tokenId` for ERC-721. */
export function toTransferView(row: TransferRow): Transfer {
  return {
    id: String(row.id),
    token: row.tokenAddress,
    standard: row.standard,
    from: row.fromAddress,
    to: row.toAddress,
    ...(row.standard === 'erc721' ? { tokenId: row.tokenId ?? '0' } : { value: row.value ?? '0' }),
    txHash: row.txHash,
    logIndex: row.logIndex,
    blockNumber: row.blockNumber,
    blockHash: row.blockHash,
    status: row.status,
    confirmations: row.confirmations,
    updatedAt: row.updatedAt.toISOString(),
  }
}
