import type { Notification } from '../../shared/protocol'
import { statementChannel } from '../bus/createPostgresBus'
import { transactWithEvents } from '../bus/transactWithEvents'
import type { Bus } from '../bus/types'
import type { Database, Transaction } from '../db/openDatabase'
import { HeraldError } from '../errors'
import { insertNotification, type NotificationParams } from './insertNotification'
import { insertNotifications } from './insertNotifications'
import { publishStored } from './publishStored'
import { sqlRunner } from './sqlRunner'

export type CreateNotificationParams = NotificationParams

/**
 * Stores a notification and announces it when it commits. `within` runs more statements in the same
 * transaction (a job recording that it sent this step, say), so both happen or neither does. Without it the
 * notification is one autocommit statement (seq bump, insert and, on the PostgreSQL bus, its NOTIFY), one
 * round trip instead of five; a writer (createNotificationWriter) also groups concurrent ones.
 */
export async function createNotification(
  db: Database,
  bus: Bus,
  params: CreateNotificationParams,
  within?: (tx: Transaction) => Promise<void>,
): Promise<Notification> {
  if (!within) {
    const channel = statementChannel(bus)
    const [notification] = await insertNotifications(sqlRunner(db), [params], channel)
    if (!notification) throw new HeraldError('NOT_FOUND', `User ${params.userId} does not exist.`)
    if (!channel) await publishStored(bus, [{ userId: params.userId, notification }])
    return notification
  }
  return transactWithEvents(db, bus, async (tx, announce) => {
    const notification = await insertNotification(tx, params)
    await within(tx)
    await announce({ kind: 'notification', userId: params.userId, notification })
    return notification
  })
}
