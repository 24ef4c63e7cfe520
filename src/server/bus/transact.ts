import type { Database, Transaction } from '../db/openDatabase'
import { type SqlRunner, transactionRunner } from '../db/sqlRunner'
import { notifyIn } from './payloadCodec'
import type { Bus, BusEvent } from './types'

/** A transaction whose bus events go out exactly when, and only if, it commits. */
export interface EventTransaction {
  /** The drizzle transaction, for the caller's own statements. */
  readonly tx: Transaction
  /** The same transaction for plain SQL (the stream core's statements). */
  readonly runner: SqlRunner
  /**
   * The bus's NOTIFY channel when it takes part in transactions: a statement may then announce its own
   * events (the stream core's append does). Null: announce through `publish`, which waits for the commit.
   */
  readonly notifyChannel: string | null
  /** Announces `event` when this transaction commits; never if it rolls back. */
  publish(event: BusEvent): Promise<void>
}

/**
 * The one way to announce events of a write: runs `work` in a transaction whose events go out with its commit
 * (NOTIFY inside it, on the PostgreSQL bus) or right after it, in the order they were published (other buses;
 * a failure then is reported by the bus and does not fail the committed work).
 */
export async function transact<T>(
  db: Database,
  bus: Bus,
  work: (transaction: EventTransaction) => Promise<T>,
): Promise<T> {
  const afterCommit: BusEvent[] = []
  const channel = bus.notifyChannel
  const result = await db.transaction((tx) => {
    const runner = transactionRunner(tx)
    return work({
      tx,
      runner,
      notifyChannel: channel,
      publish: async (event) => {
        if (channel) await notifyIn(runner, channel, event)
        else afterCommit.push(event)
      },
    })
  })
  await announceAll(bus, afterCommit)
  return result
}

/** Announces committed events in order: all are started before any is awaited (no round trip between two). */
export function announceAll(bus: Bus, events: readonly BusEvent[]): Promise<unknown> {
  if (events.length === 0) return Promise.resolve()
  if (events.length === 1) return bus.announce(events[0]!)
  return Promise.all(events.map((event) => bus.announce(event)))
}
