import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm'
import { zeroAddress } from 'viem'
import type { DataUpdateAction, TokenStandard, Transfer } from '../../shared/protocol'
import type { EventTransaction } from '../bus/transact'
import { type TransferRow, tokenTransfers, users } from '../db/schema'
import type { NotificationStore } from '../notifications/createNotificationStore'
import { upsertUserByAddress } from '../users/upsertUserByAddress'
import { toTransferView } from './toTransferView'
import { confirmedNotice, revertedNotice, type TransferSide } from './transferNotices'

/**
 * Told of every change of a transfer, inside the transaction that stores it (so it can publish with it):
 * the `token:<address>` channel feed joins here.
 */
export type TransferChangeListener = (
  transaction: EventTransaction,
  transfer: Transfer,
  action: DataUpdateAction,
) => Promise<unknown> | undefined

export interface TransferLedger {
  chainId: number
  /** TX_BLOCK_CONFIRMATIONS_REQUIRED: the block that includes a transfer is its first. */
  confirmations: number
  notifications: NotificationStore
  onTransferChange: TransferChangeListener
}

/** A Transfer log of a watched contract, as the watcher read it from the chain. */
export interface TransferLog {
  token: string
  standard: TokenStandard
  from: string
  to: string
  value: bigint | null
  tokenId: bigint | null
  symbol: string | null
  decimals: number | null
  txHash: string
  logIndex: number
  blockNumber: number
  blockHash: string
}

type Changes = Map<number, { row: TransferRow; action: DataUpdateAction }>

/**
 * Stores the logs of blocks the watcher has just read, up to `tip`, and moves every transfer still counting
 * to its confirmations at `tip`. A log seen before is the same transfer (chain, transaction, log index): one
 * that a reorganisation took away is included again (`created` once more, same id), one read twice changes
 * nothing. Everything is announced with the transaction's commit.
 */
export async function recordTransfers(
  transaction: EventTransaction,
  ledger: TransferLedger,
  logs: readonly TransferLog[],
  tip: number,
): Promise<void> {
  const { tx } = transaction
  const changes: Changes = new Map()
  for (const log of logs) {
    const confirmations = tip - log.blockNumber + 1
    const [existing] = await tx
      .select()
      .from(tokenTransfers)
      .where(
        and(
          eq(tokenTransfers.chainId, ledger.chainId),
          eq(tokenTransfers.txHash, log.txHash),
          eq(tokenTransfers.logIndex, log.logIndex),
        ),
      )
      .for('update')
    if (!existing) {
      const [row] = await tx
        .insert(tokenTransfers)
        .values({
          chainId: ledger.chainId,
          txHash: log.txHash,
          logIndex: log.logIndex,
          blockNumber: log.blockNumber,
          blockHash: log.blockHash,
          tokenAddress: log.token,
          standard: log.standard,
          fromAddress: log.from,
          toAddress: log.to,
          value: log.value?.toString() ?? null,
          tokenId: log.tokenId?.toString() ?? null,
          symbol: log.symbol,
          decimals: log.decimals,
          status: 'included',
          confirmations,
        })
        .returning()
      changes.set(row!.id, { row: row!, action: 'created' })
      continue
    }
    if (existing.status !== 'reorged' && existing.blockHash === log.blockHash) continue
    const placed = existing.status === 'confirmed' ? ledger.confirmations : confirmations
    // Back in the chain after a reorganisation (or, for a row from before block hashes were kept, placed).
    const [row] = await tx
      .update(tokenTransfers)
      .set({
        blockNumber: log.blockNumber,
        blockHash: log.blockHash,
        status: existing.status === 'reorged' ? 'included' : existing.status,
        confirmations: placed,
        updatedAt: sql`now()`,
      })
      .where(eq(tokenTransfers.id, existing.id))
      .returning()
    changes.set(row!.id, { row: row!, action: existing.status === 'reorged' ? 'created' : 'updated' })
  }
  await settle(transaction, ledger, tip, changes)
  await announce(transaction, ledger, changes)
}

/**
 * Counts confirmations at `tip` for every transfer still `included`, in chain order: one that reaches the
 * required number becomes `confirmed` and its notifications are created, once for as long as it stands.
 */
async function settle(transaction: EventTransaction, ledger: TransferLedger, tip: number, changes: Changes) {
  const { tx } = transaction
  const counting = await tx
    .select()
    .from(tokenTransfers)
    .where(and(eq(tokenTransfers.chainId, ledger.chainId), eq(tokenTransfers.status, 'included')))
    .orderBy(asc(tokenTransfers.blockNumber), asc(tokenTransfers.logIndex))
    .for('update')
  for (const row of counting) {
    const confirmations = Math.max(0, tip - row.blockNumber + 1)
    const confirmed = confirmations >= ledger.confirmations
    if (!confirmed && confirmations === row.confirmations) continue
    const ids = confirmed ? await notifyConfirmed(transaction, ledger, row) : {}
    // A confirmed transfer shows N whether the watcher saw each block or caught up several at once, so two
    // watchers of one chain agree whatever their timing; it is not counted further.
    const [updated] = await tx
      .update(tokenTransfers)
      .set({
        confirmations: confirmed ? ledger.confirmations : confirmations,
        status: confirmed ? 'confirmed' : 'included',
        updatedAt: sql`now()`,
        ...ids,
      })
      .where(eq(tokenTransfers.id, row.id))
      .returning()
    changes.set(row.id, { row: updated!, action: changes.get(row.id)?.action ?? 'updated' })
  }
}

/** Mints and burns (the zero address on either side) have no counterparty to tell. */
const isMintOrBurn = (row: TransferRow) => row.fromAddress === zeroAddress || row.toAddress === zeroAddress

async function notifyConfirmed(transaction: EventTransaction, ledger: TransferLedger, row: TransferRow) {
  if (isMintOrBurn(row)) return {}
  const received = await notify(transaction, ledger, row.toAddress, confirmedNotice(row, 'received'))
  const sent = await notify(transaction, ledger, row.fromAddress, confirmedNotice(row, 'sent'))
  return { receivedNotificationId: received, sentNotificationId: sent }
}

async function notify(
  transaction: EventTransaction,
  ledger: TransferLedger,
  address: string,
  notice: { type: string; title: string; message: string; data: unknown },
): Promise<number | null> {
  // An address that never signed in gets a user row: its notifications wait for the first sign-in.
  const user = await upsertUserByAddress(transaction.tx, address)
  const stored = await ledger.notifications.createIn(transaction, { userId: String(user.id), ...notice })
  // Null: the user turned this type off in the app (docs/protocol.md §7).
  return stored ? Number(stored.id) : null
}

/**
 * A reorganisation forked the chain after block `ancestor`: every transfer above it is no longer on the chain
 * Herald follows. Each becomes `reorged`; one whose notifications were sent gets a revert notice per party,
 * naming that party's notification. Re-reading the new chain includes again those that are in it.
 */
export async function removeTransfersAbove(
  transaction: EventTransaction,
  ledger: TransferLedger,
  ancestor: number,
): Promise<number> {
  const { tx } = transaction
  const removed = await tx
    .select()
    .from(tokenTransfers)
    .where(
      and(
        eq(tokenTransfers.chainId, ledger.chainId),
        gt(tokenTransfers.blockNumber, ancestor),
        inArray(tokenTransfers.status, ['included', 'confirmed']),
      ),
    )
    .orderBy(asc(tokenTransfers.blockNumber), asc(tokenTransfers.logIndex))
    .for('update')
  const changes: Changes = new Map()
  for (const row of removed) {
    const sides: [TransferSide, string, number | null][] = [
      ['received', row.toAddress, row.receivedNotificationId],
      ['sent', row.fromAddress, row.sentNotificationId],
    ]
    for (const [side, address, original] of sides)
      if (original !== null) await notify(transaction, ledger, address, revertedNotice(row, side, original))
    const [updated] = await tx
      .update(tokenTransfers)
      .set({
        status: 'reorged',
        confirmations: 0,
        receivedNotificationId: null,
        sentNotificationId: null,
        updatedAt: sql`now()`,
      })
      .where(eq(tokenTransfers.id, row.id))
      .returning()
    changes.set(row.id, { row: updated!, action: 'deleted' })
  }
  await announce(transaction, ledger, changes)
  return removed.length
}

/**
 * Each change as a `data_update` to both parties (those with a user row: nobody else can be connected), and
 * to the change listener, in chain order.
 */
async function announce(transaction: EventTransaction, ledger: TransferLedger, changes: Changes) {
  if (changes.size === 0) return
  const ordered = [...changes.values()].sort(
    (a, b) => a.row.blockNumber - b.row.blockNumber || a.row.logIndex - b.row.logIndex,
  )
  const parties = [...new Set(ordered.flatMap(({ row }) => [row.fromAddress, row.toAddress]))].filter(
    (address) => address !== zeroAddress,
  )
  const known = await transaction.tx
    .select({ id: users.id, address: users.address })
    .from(users)
    .where(inArray(users.address, parties))
  const userOf = new Map(known.map((user) => [user.address, String(user.id)]))
  for (const { row, action } of ordered) {
    const transfer = toTransferView(row)
    const recipients = new Set([userOf.get(row.fromAddress), userOf.get(row.toAddress)])
    for (const userId of recipients) {
      if (userId === undefined) continue
      await transaction.publish({
        kind: 'user',
        userId,
        message: { type: 'data_update', entity: 'transfer', action, data: transfer },
      })
    }
    await ledger.onTransferChange(transaction, transfer, action)
  }
}
