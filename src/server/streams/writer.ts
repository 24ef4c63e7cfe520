import { announceAll } from '../bus/transact'
import type { Bus, BusEvent } from '../bus/types'
import type { SqlRunner } from '../db/sqlRunner'
import type { StreamItem } from './delivery'
import type { AppendRow, StreamStore } from './store'

export interface StreamWriter<Item extends StreamItem> {
  /** Stores one item and announces it with (PostgreSQL bus) or right after its commit. */
  append(row: AppendRow): Promise<Item>
  /** The same for a row that asks the table's `keep` rule (StreamTable): null when the rule left it out. */
  appendIfKept(row: AppendRow): Promise<Item | null>
}

interface Pending<Item> {
  row: AppendRow
  resolve(item: Item | null): void
  reject(error: unknown): void
}

// Deadlocks cannot come from two statements (both lock counter rows in key order) but can from a transaction
// elsewhere that locks two of them the other way round; PostgreSQL aborts one side and the statement is run again.
const DEADLOCK = '40P01'
const MAX_ATTEMPTS = 3
// Data exceptions and constraint violations belong to one bad item, not to the statement it happened to share.
const itemError = (error: unknown) => /^2[23]/.test(String((error as { code?: unknown }).code ?? ''))

type Outcome<Item> = { item: Item | null | false } | { error: unknown }

/**
 * Group commit for one kind of stream. Appends that arrive while a statement is being stored wait for it and
 * then go together in the next one: one statement, one round trip and one commit for all of them, which is
 * what lifts the rate past one commit per item. At low load a statement holds one item and goes at the end of
 * the event loop turn it arrived in. Each caller gets its own item, or `missing(key)` for a stream whose
 * counter row does not exist. A statement that fails stores nothing; when the fault is one item's data, the
 * others are stored one by one and only that caller fails, otherwise (the database is down, say) every caller
 * in it does.
 */
export function createStreamWriter<Item extends StreamItem>(params: {
  runner: SqlRunner
  store: StreamStore<Item>
  bus: Bus
  /** The error for an append to a stream that does not exist (the table does not create its counter rows). */
  missing(key: string): Error
  /** Most items in one statement. */
  maxBatch?: number
  /**
   * Statements being stored at once. Two on a pool: one is sent while the other waits for its commit, so the
   * database's round trip and Herald's own work overlap (measured: more than one alone or four, which only
   * split the same load into smaller statements). One on PGlite, which runs one statement at a time anyway,
   * and with a bus that announces after the commit (Redis): two statements could announce in the other order
   * than they committed, and the hub would hold the later seqs until the earlier ones arrive.
   */
  maxInFlight?: number
}): StreamWriter<Item> {
  const { runner, store, bus } = params
  const channel = bus.notifyChannel
  const maxBatch = params.maxBatch ?? 500
  const maxInFlight = params.maxInFlight ?? (runner.concurrent && channel ? 2 : 1)
  let queue: Pending<Item>[] = []
  let inFlight = 0
  let scheduled = false

  const append = async (rows: AppendRow[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await store.append(runner, rows, channel)
      } catch (error) {
        if ((error as { code?: unknown }).code !== DEADLOCK || attempt >= MAX_ATTEMPTS) throw error
      }
    }
  }

  const appendAll = async (batch: Pending<Item>[]): Promise<Outcome<Item>[]> => {
    try {
      return (await append(batch.map((p) => p.row))).map((item) => ({ item }))
    } catch (error) {
      if (batch.length === 1 || !itemError(error)) return batch.map(() => ({ error }))
      // One item spoiled the statement: store the others one by one, so only that caller gets the error.
      const outcomes: Outcome<Item>[] = []
      for (const pending of batch) {
        try {
          outcomes.push({ item: (await append([pending.row]))[0] ?? null })
        } catch (itemFailure) {
          outcomes.push({ error: itemFailure })
        }
      }
      return outcomes
    }
  }

  const storeBatch = async (batch: Pending<Item>[]): Promise<Outcome<Item>[]> => {
    const outcomes = await appendAll(batch)
    if (channel) return outcomes
    // Stored is stored: a failed announcement is the bus's to report, and each caller gets its item.
    const events: BusEvent[] = []
    for (const [i, outcome] of outcomes.entries())
      if ('item' in outcome && outcome.item) events.push(store.event(batch[i]!.row[0], outcome.item))
    await announceAll(bus, events)
    return outcomes
  }

  const flush = () => {
    scheduled = false
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch)
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch)
      inFlight++
      // storeBatch() settles every item itself; should it ever reject, its callers fail rather than wait.
      const settled = storeBatch(batch).catch((error: unknown): Outcome<Item>[] =>
        batch.map(() => ({ error })),
      )
      void settled.then((outcomes) => {
        inFlight--
        schedule()
        for (const [i, pending] of batch.entries()) {
          const outcome = outcomes[i]!
          if ('error' in outcome) pending.reject(outcome.error)
          else if (outcome.item) pending.resolve(outcome.item)
          else if (outcome.item === false) pending.resolve(null)
          else pending.reject(params.missing(pending.row[0]))
        }
      })
    }
  }

  // setImmediate runs after the I/O of this loop turn: every request read in the same turn joins the batch.
  const schedule = () => {
    if (scheduled || queue.length === 0 || inFlight >= maxInFlight) return
    scheduled = true
    setImmediate(flush)
  }

  const appendIfKept = (row: AppendRow) =>
    new Promise<Item | null>((resolve, reject) => {
      queue.push({ row, resolve, reject })
      schedule()
    })
  return {
    async append(row) {
      // A row that does not ask the keep rule is never left out by it.
      const item = await appendIfKept(row)
      if (!item) throw params.missing(row[0])
      return item
    },
    appendIfKept,
  }
}
