import type { Notification } from '../../shared/protocol'
import type { Bus } from '../bus/types'
import type { Database, Transaction } from '../db/openDatabase'
import { insertNotification, type NotificationParams } from './insertNotification'

export type CreateNotificationParams = NotificationParams

/**
 * Stores a notification and announces it after the commit. `within` runs more statements in the same
 * transaction (a job recording that it sent this step, say), so both happen or neither does.
 */
export async function createNotification(
  db: Database,
  bus: Bus,
  params: CreateNotificationParams,
  within?: (tx: Transaction) => Promise<void>,
): Promise<Notification> {
  const notification = await db.transaction(async (tx) => {
    const stored = await insertNotification(tx, params)
    if (within) await within(tx)
    return stored
  })
  await bus.publish({ kind: 'notification', userId: params.userId, notification })
  return notification
}
