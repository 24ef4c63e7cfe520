import { and, eq, isNull, sql } from 'drizzle-orm'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { notifications } from '../db/schema'

export async function markAllNotificationsRead(
  db: Database,
  bus: Bus,
  params: { userId: string },
): Promise<{ updated: number; unreadCount: 0 }> {
  const rows = await db
    .update(notifications)
    .set({ readAt: sql`now()` })
    .where(and(eq(notifications.userId, Number(params.userId)), isNull(notifications.readAt)))
    .returning({ id: notifications.id })
  if (rows.length > 0) {
    await bus.announce({
      kind: 'user',
      userId: params.userId,
      message: { type: 'read_state', ids: 'all', unreadCount: 0 },
    })
  }
  return { updated: rows.length, unreadCount: 0 }
}
