import { eq, sql } from 'drizzle-orm'
import type { Notification } from '../../shared/protocol'
import type { Transaction } from '../db/openDatabase'
import { notifications, users } from '../db/schema'
import { HeraldError } from '../errors'
import { toNotification } from './toNotification'

export interface NotificationParams {
  userId: string
  type: string
  title: string
  message: string
  data?: unknown
}

/**
 * Stores a notification with the user's next seq inside the caller's transaction. Bumping users.last_seq
 * takes the user's row lock, so concurrent creations for one user queue behind each other and their seqs
 * follow commit order with no gap: a rolled-back transaction gives its number back. The caller announces
 * the result on the bus after its commit.
 */
export async function insertNotification(tx: Transaction, params: NotificationParams): Promise<Notification> {
  const userId = Number(params.userId)
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
  return toNotification(inserted!)
}
