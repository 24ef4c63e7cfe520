import { and, eq, sql } from 'drizzle-orm'
import type { Notification } from '../../shared/protocol'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { notifications } from '../db/schema'
import { HeraldError } from '../errors'
import { countUnread } from './countUnread'
import { toNotification } from './toNotification'

/**
 * Marks one of the user's notifications read. Someone else's id and a missing id answer the same 404, so ids
 * cannot be probed. The change is pushed to every connection of the user.
 */
export async function markNotificationRead(
  db: Database,
  bus: Bus,
  params: { userId: string; id: string },
): Promise<{ notification: Notification; unreadCount: number }> {
  const owner = and(eq(notifications.id, Number(params.id)), eq(notifications.userId, Number(params.userId)))
  const { row, changed } = await db.transaction(async (tx) => {
    const [updated] = await tx
      .update(notifications)
      .set({ readAt: sql`now()` })
      .where(and(owner, sql`${notifications.readAt} is null`))
      .returning()
    if (updated) return { row: updated, changed: true }
    const [existing] = await tx.select().from(notifications).where(owner)
    return { row: existing, changed: false }
  })
  if (!row) throw new HeraldError('NOT_FOUND', `Notification ${params.id} not found.`)
  const unreadCount = await countUnread(db, params.userId)
  if (changed) {
    // After the commit: announce never rejects (the change is stored; a lost push is corrected by the next read).
    await bus.announce({
      kind: 'user',
      userId: params.userId,
      message: { type: 'read_state', ids: [String(row.id)], unreadCount },
    })
  }
  return { notification: toNotification(row), unreadCount }
}
