import { eq, sql } from 'drizzle-orm'
import type { Notification } from '../../shared/protocol'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { notifications, users } from '../db/schema'
import { HeraldError } from '../errors'
import { toNotification } from './toNotification'

export interface CreateNotificationParams {
  userId: string
  type: string
  title: string
  message: string
  data?: unknown
}

/**
 * Stores a notification with the user's next seq and announces it after the commit. Bumping users.last_seq
 * takes the user's row lock, so concurrent creations for one user queue behind each other and their seqs
 * follow commit order with no gap: a rolled-back transaction gives its number back.
 */
export async function createNotification(
  db: Database,
  bus: Bus,
  params: CreateNotificationParams,
): Promise<Notification> {
  const userId = Number(params.userId)
  const row = await db.transaction(async (tx) => {
    const [bumped] = await tx
      .update(users)
      .set({ lastSeq: sql`${users.lastSeq} + 1` })
      .where(eq(users.id, userId))
      .returning({ seq: users.lastSeq })
    if (!bumped) throw new HeraldError('NOT_FOUND', `User ${params.userId} does not exist.`)
    const [inserted] = await tx
      .insert(notifications)
      .values({
        userId,
        seq: bumped.seq,
        type: params.type,
        title: params.title,
        message: params.message,
        data: params.data ?? null,
      })
      .returning()
    return inserted!
  })
  const notification = toNotification(row)
  await bus.publish({ kind: 'notification', userId: params.userId, notification })
  return notification
}
