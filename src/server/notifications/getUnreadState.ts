import { eq } from 'drizzle-orm'
import type { Queryable } from '../db/openDatabase'
import { users } from '../db/schema'
import { countUnread } from './countUnread'

/** Unread count and the user's latest seq, for `GET /api/notifications/unread-count`. */
export async function getUnreadState(
  db: Queryable,
  userId: string,
): Promise<{ unreadCount: number; seq: number }> {
  const [unreadCount, [user]] = await Promise.all([
    countUnread(db, userId),
    db
      .select({ seq: users.lastSeq })
      .from(users)
      .where(eq(users.id, Number(userId))),
  ])
  return { unreadCount, seq: user?.seq ?? 0 }
}
