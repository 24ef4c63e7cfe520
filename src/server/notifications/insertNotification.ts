import type { Notification } from '../../shared/protocol'
import type { Transaction } from '../db/openDatabase'
import { HeraldError } from '../errors'
import { insertNotifications } from './insertNotifications'
import { transactionRunner } from './sqlRunner'

export interface NotificationParams {
  userId: string
  type: string
  title: string
  message: string
  data?: unknown
}

/**
 * Stores a notification with the user's next seq inside the caller's transaction, through the same statement
 * as every other notification (insertNotifications). Bumping users.last_seq takes the user's row lock, so
 * concurrent creations for one user queue behind each other and their seqs follow commit order with no gap:
 * a rolled-back transaction gives its number back. The caller announces the result on the bus.
 */
export async function insertNotification(tx: Transaction, params: NotificationParams): Promise<Notification> {
  const [notification] = await insertNotifications(transactionRunner(tx), [params], null)
  if (!notification) throw new HeraldError('NOT_FOUND', `User ${params.userId} does not exist.`)
  return notification
}
