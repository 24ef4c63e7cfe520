import type { StreamTable } from '../streams/statements'

/**
 * A user's inbox as a stream of the stream core: keyed by user id, its seqs handed out by users.last_seq,
 * its items the notifications table. The wire JSON is the contract's Notification (docs/protocol.md §1).
 */
export const inboxTable: StreamTable = {
  kind: 'inbox',
  counter: { table: 'users', key: 'id', keyType: 'bigint', create: false },
  items: { table: 'notifications', key: 'user_id', time: 'created_at' },
  columns: [
    { name: 'type', type: 'text' },
    { name: 'title', type: 'text' },
    { name: 'message', type: 'text' },
    { name: 'data', type: 'jsonb' },
    { name: 'critical', type: 'boolean' },
  ],
  wire: (r) =>
    `json_build_object('id', ${r}.id::text, 'seq', ${r}.seq, 'type', ${r}.type, 'title', ${r}.title,
      'message', ${r}.message, 'data', ${r}.data,
      'createdAt', to_char(${r}.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'read', ${r}.read_at is not null, 'seen', ${r}.seen_at is not null,
      'archived', ${r}.archived_at is not null, 'critical', ${r}.critical)`,
  // The one in-app rule (docs/protocol.md §7), asked by publish, createMany and createIn: critical, or the
  // type's in-app choice (its own entry, else the default; `channelsFor` in preferences.ts), or no stored
  // preferences (everything on).
  keep: (e) =>
    `coalesce((${e}->>5)::boolean, false) or coalesce((
      select coalesce((coalesce(p.preferences->'types'->(${e}->>1), p.preferences->'default')->>'inApp')::boolean, false)
      from notification_preferences p where p.user_id = (${e}->>0)::bigint), true)`,
}

/**
 * A notification as an inbox append row: its user (the stream's key), then the columns in `inboxTable`'s order.
 * Append `true` to it to ask the keep rule (the user's preferences).
 */
export const inboxRow = (notification: {
  userId: string
  type: string
  title: string
  message: string
  data?: unknown
  critical?: boolean
}) =>
  [
    notification.userId,
    notification.type,
    notification.title,
    notification.message,
    notification.data ?? null,
    notification.critical === true,
  ] as const
