import type { Notification } from '../../shared/protocol'
import type { EventTransaction } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { type SqlRunner, sqlRunner } from '../db/sqlRunner'
import { HeraldError } from '../errors'
import type { StreamSource } from '../streams/delivery'
import { createStreamStore } from '../streams/store'
import { createStreamWriter } from '../streams/writer'
import { inboxRow, inboxTable } from './inboxTable'
import { type BatchEntry, type BatchResults, storeNotificationBatch } from './storeNotificationBatch'

export interface NotificationParams {
  userId: string
  type: string
  title: string
  message: string
  data?: unknown
  /** Stored and pushed whatever the user's preferences say (docs/protocol.md §7). */
  critical?: boolean
}

export interface NotificationStore {
  /**
   * Stores one notification with the user's next seq and pushes it after its commit. Concurrent creations
   * share statements and commits (group commit); each caller gets its own row, or NOT_FOUND for a user that
   * does not exist. It stores whatever the user's preferences say: senders on a user's behalf use `publish`.
   */
  create(params: NotificationParams): Promise<Notification>
  /**
   * `create` as the user's preferences allow (docs/protocol.md §7): null when the user turned this type off in
   * the app (`inApp: false`) and the notification is not `critical`; nothing is stored or sent then.
   */
  publish(params: NotificationParams): Promise<Notification | null>
  /**
   * Many at once, all or nothing; addresses that never signed in get a user row. Answers in input order.
   * `within` runs last in the same transaction, given the results.
   */
  createMany(
    entries: readonly BatchEntry[],
    within?: (runner: SqlRunner, results: BatchResults) => Promise<void>,
  ): Promise<BatchResults>
  /**
   * Inside the caller's transaction (a job's step, the transfer watcher's block), through the same statement as
   * every other notification; pushed when the transaction commits. Null as for `create`.
   */
  createIn(transaction: EventTransaction, params: NotificationParams): Promise<Notification | null>
  /** A user's inbox as the stream core reads it (replay, gap filling). */
  readonly source: StreamSource<Notification>
}

export const userMissing = (userId: string) => new HeraldError('NOT_FOUND', `User ${userId} does not exist.`)

/** The notification store: a user's inbox is a stream of the stream core (src/server/streams). */
export function createNotificationStore(params: { db: Database; bus: Bus }): NotificationStore {
  const { bus } = params
  const runner = sqlRunner(params.db)
  const inbox = createStreamStore<Notification>(runner, inboxTable)
  const writer = createStreamWriter({ runner, store: inbox, bus, missing: userMissing })
  return {
    create: (notification) => writer.append(inboxRow(notification)),
    // The preferences are checked in the storing statement (inboxTable's `keep`), not by a query before it.
    publish: (notification) => writer.appendIfKept([...inboxRow(notification), true]),
    createMany: (entries, within) => storeNotificationBatch({ runner, inbox, bus }, entries, within),
    async createIn(transaction, notification) {
      // Asks the keep rule as `publish` does: false when the user's preferences leave the row out.
      const [stored] = await inbox.append(
        transaction.runner,
        [[...inboxRow(notification), true]],
        transaction.notifyChannel,
      )
      if (stored === false) return null
      if (!stored) throw userMissing(notification.userId)
      if (!transaction.notifyChannel) await transaction.publish(inbox.event(notification.userId, stored))
      return stored
    },
    source: inbox.source,
  }
}
