import type { Notification } from '../../shared/protocol'
import type { NotificationRow } from '../db/schema'

export function toNotification(row: NotificationRow): Notification {
  return {
    id: String(row.id),
    seq: row.seq,
    type: row.type,
    title: row.title,
    message: row.message,
    data: row.data ?? null,
    createdAt: row.createdAt.toISOString(),
    read: row.readAt !== null,
    seen: row.seenAt !== null,
    archived: row.archivedAt !== null,
    critical: row.critical,
  }
}
