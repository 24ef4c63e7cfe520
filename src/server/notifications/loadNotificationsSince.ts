import { and, asc, eq, gt } from 'drizzle-orm'
import type { Notification } from '../../shared/protocol'
import type { Queryable } from '../db/openDatabase'
import { notifications } from '../db/schema'
import { toNotification } from './toNotification'

/** Notifications after a seq, oldest first: what resume replays and what the hub fills gaps from. */
export async function loadNotificationsSince(
  db: Queryable,
  params: { userId: string; since: number; limit: number },
): Promise<Notification[]> {
  const rows = await db
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, Number(params.userId)), gt(notifications.seq, params.since)))
    .orderBy(asc(notifications.seq))
    .limit(params.limit)
  return rows.map(toNotification)
}
