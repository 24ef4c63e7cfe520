import type { Notification } from '../../shared/protocol'
import { statementChannel } from '../bus/createPostgresBus'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { HeraldError } from '../errors'
import type { NotificationParams } from './insertNotification'
import { insertNotifications } from './insertNotifications'
import { publishStored } from './publishStored'
import { sqlRunner } from './sqlRunner'

export interface NotificationWriter {
  /** Stores one notification and announces it after (PostgreSQL bus: with) its commit. */
  create(params: NotificationParams): Promise<Notification>
}

interface Pending {
  params: NotificationParams
  resolve(notification: Notification): void
  reject(error: unknown): void
}

// Deadlocks cannot come from two batches (both lock users in id order) but can from a transaction elsewhere
// that locks two users the other way round; PostgreSQL aborts one side and the batch is simply run again.
const DEADLOCK = '40P01'
const MAX_ATTEMPTS = 3
// Data exceptions and constraint violations belong to one bad item, not to the batch it happened to share.
const itemError = (error: unknown) => /^2[23]/.test(String((error as { code?: unknown }).code ?? ''))

type Outcome = { notification: Notification | null } | { error: unknown }

/**
 * Group commit. Creations that arrive while a batch is being stored wait for it and then go together in the
 * next one: one statement, one round trip and one commit for all of them, which is what lifts the rate past
 * one commit per notification. At low load a batch holds one notification and goes at the end of the event
 * loop turn it arrived in. Each caller gets its own row, or NOT_FOUND for a user that does not exist. A
 * statement that fails stores nothing; when the fault is one item's data, the others are stored one by one
 * and only that caller fails, otherwise (the database is down, say) every caller in it does.
 */
export function createNotificationWriter(params: {
  db: Database
  bus: Bus
  /** Most notifications in one statement. */
  maxBatch?: number
  /**
   * Batches being stored at once. Two on a pool: one is sent while the other waits for its commit, so the
   * database's round trip and Herald's own work overlap (measured: more than one alone or four, which only
   * split the same load into smaller statements). One on PGlite, which runs one statement at a time anyway,
   * and with a bus that publishes after the commit (Redis): two batches could publish in the other order than
   * they committed, and the hub would hold the later seqs until the earlier ones arrive.
   */
  maxInFlight?: number
}): NotificationWriter {
  const { bus } = params
  const runner = sqlRunner(params.db)
  const channel = statementChannel(bus)
  const maxBatch = params.maxBatch ?? 500
  const maxInFlight = params.maxInFlight ?? (runner.concurrent && channel ? 2 : 1)
  let queue: Pending[] = []
  let inFlight = 0
  let scheduled = false

  const insert = async (items: NotificationParams[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await insertNotifications(runner, items, channel)
      } catch (error) {
        if ((error as { code?: unknown }).code !== DEADLOCK || attempt >= MAX_ATTEMPTS) throw error
      }
    }
  }

  const insertAll = async (batch: Pending[]): Promise<Outcome[]> => {
    try {
      return (await insert(batch.map((p) => p.params))).map((notification) => ({ notification }))
    } catch (error) {
      if (batch.length === 1 || !itemError(error)) return batch.map(() => ({ error }))
      // One item spoiled the statement: store the others one by one, so only that caller gets the error.
      const outcomes: Outcome[] = []
      for (const pending of batch) {
        try {
          outcomes.push({ notification: (await insert([pending.params]))[0] ?? null })
        } catch (itemFailure) {
          outcomes.push({ error: itemFailure })
        }
      }
      return outcomes
    }
  }

  const store = async (batch: Pending[]): Promise<Outcome[]> => {
    const outcomes = await insertAll(batch)
    if (channel) return outcomes
    // Stored is stored: a failed announcement is the bus's to report, and each caller gets its row.
    await publishStored(
      bus,
      outcomes.map((outcome, i) => ({
        userId: batch[i]!.params.userId,
        notification: 'notification' in outcome ? outcome.notification : null,
      })),
    )
    return outcomes
  }

  const flush = () => {
    scheduled = false
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch)
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch)
      inFlight++
      // store() settles every item itself; should it ever reject, its callers fail rather than wait forever.
      const settled = store(batch).catch((error: unknown): Outcome[] => batch.map(() => ({ error })))
      void settled.then((outcomes) => {
        inFlight--
        schedule()
        for (const [i, pending] of batch.entries()) {
          const outcome = outcomes[i]!
          if ('error' in outcome) pending.reject(outcome.error)
          else if (outcome.notification) pending.resolve(outcome.notification)
          else pending.reject(new HeraldError('NOT_FOUND', `User ${pending.params.userId} does not exist.`))
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

  return {
    create(notification) {
      return new Promise<Notification>((resolve, reject) => {
        queue.push({ params: notification, resolve, reject })
        schedule()
      })
    },
  }
}
