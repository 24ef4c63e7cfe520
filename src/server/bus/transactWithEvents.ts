import type { Database, Transaction } from '../db/openDatabase'
import type { Bus, BusEvent } from './types'

export type Announce = (event: BusEvent) => Promise<void>

/**
 * Runs `work` in a transaction whose bus events go out only if it commits: inside it where the bus can take
 * part (PostgreSQL NOTIFY), otherwise right after the commit, in the order they were announced (a failure
 * then is reported by the bus and does not fail the committed work).
 */
export async function transactWithEvents<T>(
  db: Database,
  bus: Bus,
  work: (tx: Transaction, announce: Announce) => Promise<T>,
): Promise<T> {
  const afterCommit: BusEvent[] = []
  const result = await db.transaction((tx) =>
    work(tx, async (event) => {
      if (bus.publishWithin) await bus.publishWithin(tx, event)
      else afterCommit.push(event)
    }),
  )
  for (const event of afterCommit) await bus.announceCommitted(event)
  return result
}
