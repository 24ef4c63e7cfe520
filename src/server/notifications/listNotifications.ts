import { and, desc, eq, inArray, isNotNull, isNull, lt, type SQL } from 'drizzle-orm'
import type { Notification } from '../../shared/protocol'
import type { Queryable } from '../db/openDatabase'
import { notifications } from '../db/schema'
import { toNotification } from './toNotification'

export interface ListNotificationsParams {
  userId: string
  limit: number
  /** Only seqs below this one: the cursor is the user's seq, never a timestamp. */
  before?: number
  unreadOnly?: boolean
  /** The archive (true) or the inbox (false, the default). */
  archived?: boolean
  /** Only these types (none: every type). */
  types?: readonly string[]
}

/** Newest first; nextBefore is the cursor for the following page, null on the last one. */
export async function listNotifications(
  db: Queryable,
  params: ListNotificationsParams,
): Promise<{ notifications: Notification[]; nextBefore: number | null }> {
  const conditions: SQL[] = [
    eq(notifications.userId, Number(params.userId)),
    params.archived ? isNotNull(notifications.archivedAt) : isNull(notifications.archivedAt),
  ]
  if (params.before !== undefined) conditions.push(lt(notifications.seq, params.before))
  if (params.unreadOnly) conditions.push(isNull(notifications.readAt))
  if (params.types && params.types.length > 0) conditions.push(inArray(notifications.type, [...params.types]))
  const rows = await db
    .select()
    .from(notifications)
    .where(and(...conditions))
    .orderBy(desc(notifications.seq))
    .limit(params.limit + 1)
  const page = rows.slice(0, params.limit)
  const hasMore = rows.length > params.limit
  return {
    notifications: page.map(toNotification),
    nextBefore: hasMore ? page[page.length - 1]!.seq : null,
  }
}

/** Every type the user has received, for a preferences panel; alphabetical. */
export async function listReceivedTypes(db: Queryable, userId: string): Promise<string[]> {
  const rows = await db
    .selectDistinct({ type: notifications.type })
    .from(notifications)
    .where(eq(notifications.userId, Number(userId)))
    .orderBy(notifications.type)
    .limit(500)
  return rows.map((r) => r.type)
}
