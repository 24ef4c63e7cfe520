import { and, count, eq, isNull } from 'drizzle-orm'
import type { Queryable } from '../db/openDatabase'
import { notifications } from '../db/schema'

export async function countUnread(db: Queryable, userId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(notifications)
    .where(and(eq(notifications.userId, Number(userId)), isNull(notifications.readAt)))
  return row?.n ?? 0
}
