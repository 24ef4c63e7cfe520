import { and, eq, inArray, lte, min, notInArray } from 'drizzle-orm'
import { formatUnits, getAddress, parseAbiItem, zeroAddress } from 'viem'
import { transact } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { chainCursors, tokens, tokenTransfers } from '../db/schema'
import type { ErrorReporter } from '../errors'
import type { NotificationStore } from '../notifications/createNotificationStore'
import { upsertUserByAddress } from '../users/upsertUserByAddress'
import type { ChainContext } from './connectChain'

export const TRANSFER_CURSOR = 'transfers'
const transferEvent = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)')

export interface TransferWatcherDeps {
  db: Database
  bus: Bus
  notifications: NotificationStore
  chain: ChainContext
  intervalMs: number
  maxBlockRange: number
  onError: ErrorReporter
}

export interface TransferWatcher {
  start(): void
  /** Resolves once the pass in progress, if any, has finished. */
  stop(): Promise<void>
  /** One pass now (tests and catch-up); returns the block the cursor reached. */
  poll(): Promise<number | null>
}

/**
 * Turns Transfer logs of the tokens Herald deployed into notifications for both parties, after the required
 * confirmations, exactly once per log: the log's row (unique on chain, transaction, log index), the
 * notifications and the cursor move commit together, so a restart resumes at the cursor and a log read twice
 * inserts nothing. Logs of any other contract are never asked for.
 */
export function startTransferWatcher(deps: TransferWatcherDeps): TransferWatcher {
  const { db, bus, chain } = deps
  let timer: Timer | null = null
  let running: Promise<unknown> | null = null
  let active = false

  const poll = async (): Promise<number | null> => {
    // Uncached: the client caches the block number for its polling interval (2 s on a remote chain), which
    // would hold the watcher that long behind WATCHER_INTERVAL_MS and make poll() read a stale head.
    const head = Number(await chain.publicClient.getBlockNumber({ cacheTime: 0 }))
    const safeHead = head - (chain.confirmations - 1)
    const cursor = await readCursor(safeHead)
    const from = cursor + 1
    const to = Math.min(safeHead, cursor + deps.maxBlockRange)
    if (from > to) return cursor
    const watched = await db
      .select({ address: tokens.address })
      .from(tokens)
      .where(and(eq(tokens.chainId, chain.chainId), lte(tokens.deployedBlock, to)))
    const logs =
      watched.length === 0
        ? []
        : await chain.publicClient.getLogs({
            address: watched.map((t) => t.address as `0x${string}`),
            event: transferEvent,
            fromBlock: BigInt(from),
            toBlock: BigInt(to),
            strict: true,
          })
    return transact(db, bus, async (transaction) => {
      const { tx } = transaction
      const symbols = new Map<string, string>()
      if (logs.length > 0) {
        const rows = await tx
          .select({ address: tokens.address, symbol: tokens.symbol })
          .from(tokens)
          .where(
            and(
              eq(tokens.chainId, chain.chainId),
              inArray(tokens.address, [...new Set(logs.map((l) => getAddress(l.address)))]),
            ),
          )
        for (const row of rows) symbols.set(row.address, row.symbol)
      }
      for (const log of logs) {
        const tokenAddress = getAddress(log.address)
        const symbol = symbols.get(tokenAddress)
        if (!symbol) continue
        const { from: sender, to: recipient, value } = log.args
        const [inserted] = await tx
          .insert(tokenTransfers)
          .values({
            chainId: chain.chainId,
            txHash: log.transactionHash,
            logIndex: log.logIndex,
            blockNumber: Number(log.blockNumber),
            tokenAddress,
            fromAddress: getAddress(sender),
            toAddress: getAddress(recipient),
            value: value.toString(),
          })
          .onConflictDoNothing()
          .returning({ id: tokenTransfers.id })
        if (!inserted) continue
        const amount = formatUnits(value, 18)
        const data = {
          token: tokenAddress,
          symbol,
          from: getAddress(sender),
          to: getAddress(recipient),
          value: value.toString(),
          amount,
          txHash: log.transactionHash,
          logIndex: log.logIndex,
          blockNumber: Number(log.blockNumber),
        }
        // Mints and burns have no counterparty to tell.
        if (recipient !== zeroAddress && sender !== zeroAddress) {
          const receiver = await upsertUserByAddress(tx, recipient)
          await deps.notifications.createIn(transaction, {
            userId: String(receiver.id),
            type: 'token_transfer_received',
            title: `Received ${amount} ${symbol}`,
            message: `From ${data.from}.`,
            data,
          })
          const payer = await upsertUserByAddress(tx, sender)
          await deps.notifications.createIn(transaction, {
            userId: String(payer.id),
            type: 'token_transfer_sent',
            title: `Sent ${amount} ${symbol}`,
            message: `To ${data.to}.`,
            data,
          })
        }
      }
      // A token that committed after this pass read its list, deployed inside the range, has logs this pass
      // did not ask for: stop just before its deployment so the next pass reads them.
      const known = new Set(watched.map((t) => t.address))
      const [late] = await tx
        .select({ block: min(tokens.deployedBlock) })
        .from(tokens)
        .where(
          and(
            eq(tokens.chainId, chain.chainId),
            lte(tokens.deployedBlock, to),
            known.size > 0 ? notInArray(tokens.address, [...known]) : undefined,
          ),
        )
      const reached = late?.block != null ? Math.max(cursor, Math.min(to, late.block - 1)) : to
      // Advances only from where this pass started: a deployment that rewound the cursor meanwhile wins,
      // and the next pass reads the new token's blocks (the unique key drops logs already seen).
      await tx
        .update(chainCursors)
        .set({ block: reached })
        .where(
          and(
            eq(chainCursors.name, TRANSFER_CURSOR),
            eq(chainCursors.chainId, chain.chainId),
            eq(chainCursors.block, cursor),
          ),
        )
      return reached
    })
  }

  /** The stored cursor; a new one starts just before the earliest token Herald deployed. */
  const readCursor = async (safeHead: number): Promise<number> => {
    const where = and(eq(chainCursors.name, TRANSFER_CURSOR), eq(chainCursors.chainId, chain.chainId))
    const [row] = await db.select({ block: chainCursors.block }).from(chainCursors).where(where)
    if (row) return row.block
    const [earliest] = await db
      .select({ block: min(tokens.deployedBlock) })
      .from(tokens)
      .where(eq(tokens.chainId, chain.chainId))
    const start = earliest?.block != null ? earliest.block - 1 : Math.max(0, safeHead)
    await db
      .insert(chainCursors)
      .values({ name: TRANSFER_CURSOR, chainId: chain.chainId, block: start })
      .onConflictDoNothing()
    const [again] = await db.select({ block: chainCursors.block }).from(chainCursors).where(where)
    return again!.block
  }

  const tick = async () => {
    timer = null
    try {
      // Catch up in bounded steps while behind, then wait for new blocks.
      for (let i = 0; i < 20 && active; i++) {
        const head =
          Number(await chain.publicClient.getBlockNumber({ cacheTime: 0 })) - (chain.confirmations - 1)
        const reached = await poll()
        if (reached === null || reached >= head) break
      }
    } catch (error) {
      deps.onError(error, 'transfer watcher pass')
    }
    if (active)
      timer = setTimeout(() => {
        running = tick()
      }, deps.intervalMs)
  }

  return {
    start() {
      if (active) return
      active = true
      running = tick()
    },
    async stop() {
      active = false
      if (timer) clearTimeout(timer)
      timer = null
      await running
    },
    poll,
  }
}
