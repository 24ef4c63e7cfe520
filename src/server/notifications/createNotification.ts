import type { Notification } from '../../shared/protocol'
import { transactWithEvents } from '../bus/transactWithEvents'
import type { Bus } from '../bus/types'
import type { Database, Transaction } from '../db/openDatabase'
import { insertNotification, type NotificationParams } from './insertNotification'

export type CreateNotificationParams = NotificationParams

/**
 * Stores a notification and announces it when the transaction commits. `within` runs more statements in the
 * same transaction (a job recording that it sent this step, say), so both happen or neither does.
 */
export async function createNotification(
  db: Database,
  bus: Bus,
  params: CreateNotificationParams,
  within?: (tx: Transaction) => Promise<void>,
): Promise<Notification> {
  return transactWithEvents(db, bus, async (tx, announce) => {
    const notification = await insertNotification(tx, params)
    if (within) await within(tx)
    await announce({ kind: 'notification', userId: params.userId, notification })
    return notification
  })
}
