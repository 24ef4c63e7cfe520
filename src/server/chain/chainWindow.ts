import { and, asc, desc, eq, gt, lt } from 'drizzle-orm'
import type { Hex, PublicClient } from 'viem'
import type { Queryable } from '../db/openDatabase'
import { chainBlocks, chainCursors } from '../db/schema'
import { TRANSFER_CURSOR } from './watchedContracts'

// The recent chain as the transfer watcher has read it: the cursor (logs are read through this block) and
// the window (the hash and parent hash of each block up to the tip, the last WATCHER_REORG_WINDOW of them).
// A block whose parent hash is not the hash kept for the block below it means the chain reorganised.

export interface BlockHeader {
  number: number
  hash: Hex
  parentHash: Hex
}

export interface WindowState {
  /** Logs are read through this block. Never above `tip`; below it after a new token rewound it. */
  cursor: number
  /** The highest block whose hash is kept, or the cursor when none is (a first start, or a window lost). */
  tip: number
  tipHash: Hex | null
  /** The lowest block whose hash is kept, or null when none is. */
  oldest: number | null
}

const cursorRow = (chainId: number) =>
  and(eq(chainCursors.name, TRANSFER_CURSOR), eq(chainCursors.chainId, chainId))

/** The watcher's state; a first start puts the cursor at `startAt()` (nothing at or below it is read). */
export async function readWindowState(
  db: Queryable,
  chainId: number,
  startAt: () => Promise<number>,
): Promise<WindowState> {
  let [cursor] = await db.select({ block: chainCursors.block }).from(chainCursors).where(cursorRow(chainId))
  if (!cursor) {
    await db
      .insert(chainCursors)
      .values({ name: TRANSFER_CURSOR, chainId, block: await startAt() })
      .onConflictDoNothing()
    ;[cursor] = await db.select({ block: chainCursors.block }).from(chainCursors).where(cursorRow(chainId))
  }
  return { cursor: cursor!.block, ...(await windowEnds(db, chainId, cursor!.block)) }
}

async function windowEnds(db: Queryable, chainId: number, cursor: number) {
  const [top] = await db
    .select({ number: chainBlocks.number, hash: chainBlocks.hash })
    .from(chainBlocks)
    .where(eq(chainBlocks.chainId, chainId))
    .orderBy(desc(chainBlocks.number))
    .limit(1)
  if (!top) return { tip: cursor, tipHash: null, oldest: null }
  const [bottom] = await db
    .select({ number: chainBlocks.number })
    .from(chainBlocks)
    .where(eq(chainBlocks.chainId, chainId))
    .orderBy(asc(chainBlocks.number))
    .limit(1)
  return { tip: top.number, tipHash: top.hash as Hex, oldest: bottom!.number }
}

/**
 * Locks the cursor row for the rest of the transaction and tells whether the state is still `expected`:
 * another watcher on the same database, or a deployment rewinding the cursor, may have moved it since it
 * was read, and then this pass's reads are stale and it stores nothing.
 */
export async function lockWindowState(
  tx: Queryable,
  chainId: number,
  expected: WindowState,
): Promise<boolean> {
  const [cursor] = await tx
    .select({ block: chainCursors.block })
    .from(chainCursors)
    .where(cursorRow(chainId))
    .for('update')
  if (cursor?.block !== expected.cursor) return false
  const now = await windowEnds(tx, chainId, cursor.block)
  return now.tip === expected.tip && now.tipHash === expected.tipHash && now.oldest === expected.oldest
}

export async function moveCursor(tx: Queryable, chainId: number, block: number): Promise<void> {
  await tx.update(chainCursors).set({ block }).where(cursorRow(chainId))
}

/** Every kept hash, by block number. */
export async function loadWindowHashes(db: Queryable, chainId: number): Promise<Map<number, Hex>> {
  const rows = await db
    .select({ number: chainBlocks.number, hash: chainBlocks.hash })
    .from(chainBlocks)
    .where(eq(chainBlocks.chainId, chainId))
  return new Map(rows.map((row) => [row.number, row.hash as Hex]))
}

/** Adds newly read blocks and forgets those below `keepFrom`. */
export async function storeHeaders(
  tx: Queryable,
  chainId: number,
  headers: readonly BlockHeader[],
  keepFrom: number,
): Promise<void> {
  const kept = headers.filter((header) => header.number >= keepFrom)
  if (kept.length > 0) await tx.insert(chainBlocks).values(kept.map((header) => ({ chainId, ...header })))
  await tx.delete(chainBlocks).where(and(eq(chainBlocks.chainId, chainId), lt(chainBlocks.number, keepFrom)))
}

/** Forgets every block above `ancestor`: they are not on the chain any more. */
export async function cutWindowAbove(tx: Queryable, chainId: number, ancestor: number): Promise<void> {
  await tx.delete(chainBlocks).where(and(eq(chainBlocks.chainId, chainId), gt(chainBlocks.number, ancestor)))
}

/** The headers of these blocks, as the node has them now. */
export async function fetchHeaders(
  client: PublicClient,
  numbers: readonly number[],
): Promise<Map<number, BlockHeader>> {
  const headers = new Map<number, BlockHeader>()
  // A few at a time: enough to hide latency, few enough not to flood a remote node.
  for (let i = 0; i < numbers.length; i += 16) {
    const batch = await Promise.all(numbers.slice(i, i + 16).map((number) => fetchHeader(client, number)))
    for (const header of batch) headers.set(header.number, header)
  }
  return headers
}

export async function fetchHeader(client: PublicClient, number: number): Promise<BlockHeader> {
  const block = await client.getBlock({ blockNumber: BigInt(number), includeTransactions: false })
  if (!block.hash) throw new Error(`block ${number} has no hash yet`)
  return { number, hash: block.hash, parentHash: block.parentHash }
}

/**
 * The highest kept block at or below `from` that the node still has with the same hash, or null when none
 * is (a reorganisation deeper than the window). Walks down from the top: reorganisations are shallow.
 */
export async function findCommonAncestor(
  client: PublicClient,
  kept: ReadonlyMap<number, Hex>,
  from: number,
): Promise<number | null> {
  const numbers = [...kept.keys()].filter((number) => number <= from).sort((a, b) => b - a)
  for (const number of numbers) {
    const header = await fetchHeader(client, number)
    if (header.hash === kept.get(number)) return number
  }
  return null
}
