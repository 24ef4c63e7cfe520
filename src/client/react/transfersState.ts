import type { Transfer } from '../sdk'

/**
 * Merges transfers into a list kept newest first (by id). A transfer replaces the one with its id unless
 * that one is newer (a later `updatedAt`), so a page fetched before a live update cannot undo it.
 */
export function mergeTransfers(list: readonly Transfer[], incoming: readonly Transfer[]): Transfer[] {
  const byId = new Map(list.map((transfer) => [transfer.id, transfer]))
  for (const transfer of incoming) {
    const current = byId.get(transfer.id)
    if (!current || Date.parse(transfer.updatedAt) >= Date.parse(current.updatedAt))
      byId.set(transfer.id, transfer)
  }
  return [...byId.values()].sort((a, b) => Number(b.id) - Number(a.id))
}

/** How far a transfer is from final, for a status line: "included", "2/3 confirmations", "confirmed", "reorged". */
export function transferProgress(transfer: Transfer, required: number | null) {
  if (transfer.status !== 'included') return { status: transfer.status, label: transfer.status }
  const label =
    required === null
      ? `${transfer.confirmations} confirmation${transfer.confirmations === 1 ? '' : 's'}`
      : `${transfer.confirmations}/${required} confirmations`
  return { status: transfer.status, label }
}
