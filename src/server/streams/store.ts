import DataLoader from 'dataloader'
import { mayExceedInline } from '../bus/payloadCodec'
import type { BusEvent } from '../bus/types'
import type { SqlRunner } from '../db/sqlRunner'
import type { StreamItem, StreamSource } from './delivery'
import { type StreamStatements, type StreamTable, streamStatements } from './statements'

/** One item to append: the stream's key and the item's own columns, in the table's order. */
export type AppendRow = readonly [key: string, ...columns: unknown[]]

/**
 * The storage half of the stream core for one kind of stream: append items (their seqs assigned in the
 * storing statement), read a stream since a seq, and its latest seq. The runner decides where the statements
 * run: the pool (each statement its own transaction), or a caller's transaction (transactionRunner).
 */
export interface StreamStore<Item extends StreamItem> {
  readonly table: StreamTable
  /**
   * Stores the rows in one statement and answers the stored items in input order; null where the stream's
   * counter row does not exist, false where the table's `keep` rule left the row out (only rows that ask). With `notifyChannel` (the bus's capability) the statement also announces
   * each item on it, so the announcement commits with the rows; otherwise the caller announces after commit
   * (see `events`). `whole`: all or nothing; when one stream does not exist nothing is stored, and every row
   * the keep rule did not leave out comes back null.
   */
  append(
    runner: SqlRunner,
    rows: readonly AppendRow[],
    notifyChannel: string | null,
    whole?: boolean,
  ): Promise<(Item | null | false)[]>
  /** The bus event that announces a stored item. */
  event(key: string, item: Item): BusEvent
  /** The stream's items after `since`, oldest first (what a replay sends and gaps are filled from). */
  loadSince(key: string, since: number, limit: number): Promise<Item[]>
  latestSeq(key: string): Promise<number>
  /** loadSince and latestSeq, as the delivery half takes them. */
  readonly source: StreamSource<Item>
}

/**
 * The reads' batching: every read asked for in one turn of the event loop (setImmediate runs after its I/O)
 * goes in one statement; never answered from a cache, since a stream grows.
 */
const ONE_TURN = {
  cache: false,
  maxBatchSize: 500,
  batchScheduleFn: (callback: () => void) => setImmediate(callback),
} as const

type StoredRow = { ord: number; item: string | null }

export function createStreamStore<Item extends StreamItem>(
  runner: SqlRunner,
  table: StreamTable,
): StreamStore<Item> {
  const statements: StreamStatements = streamStatements(table)
  // Every read of the same turn of the event loop in one statement: after a restart, thousands of clients
  // resume their inbox and re-subscribe their channels at once, and most of them missed nothing; one query
  // per read would make the database the bound of how fast they are all live again.
  const reads = new DataLoader<readonly [key: string, since: number, limit: number], Item[]>(
    async (batch) => {
      if (batch.length === 1) {
        const [key, since, limit] = batch[0]!
        const rows = await runner.query<{ item: string }>(statements.since, [key, since, limit])
        return [rows.map((row) => JSON.parse(row.item) as Item)]
      }
      const rows = await runner.query<{ ord: number; item: string }>(statements.sinceMany, [
        JSON.stringify(batch),
      ])
      const out: Item[][] = batch.map(() => [])
      for (const row of rows) out[row.ord - 1]!.push(JSON.parse(row.item) as Item)
      return out
    },
    ONE_TURN,
  )
  const loadSince = (key: string, since: number, limit: number) => reads.load([key, since, limit])
  const latests = new DataLoader<string, number>(async (keys) => {
    if (keys.length === 1) {
      const [row] = await runner.query<{ seq: string | number }>(statements.latest, [keys[0]])
      return [row ? Number(row.seq) : 0]
    }
    const rows = await runner.query<{ key: string; seq: string | number }>(statements.latestMany, [
      JSON.stringify(keys),
    ])
    const byKey = new Map(rows.map((row) => [row.key, Number(row.seq)]))
    return keys.map((key) => byKey.get(String(key)) ?? 0)
  }, ONE_TURN)
  const latestSeq = (key: string) => latests.load(String(key))
  return {
    table,
    async append(into, rows, notifyChannel, whole = false) {
      const chosen = whole ? statements.whole : statements
      let mayBeLarge = false
      const parts = rows.map((row) => {
        const part = JSON.stringify(row)
        if (notifyChannel && mayExceedInline(part)) mayBeLarge = true
        return part
      })
      const input = `[${parts.join(',')}]`
      const stored = !notifyChannel
        ? await into.query<StoredRow>(chosen.append, [input])
        : await into.query<StoredRow>(mayBeLarge ? chosen.appendAndNotifyLarge : chosen.appendAndNotify, [
            input,
            notifyChannel,
          ])
      const out: (Item | null | false)[] = new Array(rows.length).fill(null)
      for (const row of stored) out[row.ord - 1] = row.item === null ? false : (JSON.parse(row.item) as Item)
      return out
    },
    event: (key, item) => ({ kind: 'item', stream: table.kind, key, item }),
    loadSince,
    latestSeq,
    source: { loadSince, latestSeq },
  }
}
