import { bigint, bigserial, index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core'
import { notifications, users } from './schema'

// Web Push's tables (docs/protocol.md §7), beside ./schema so that file stays readable; drizzle-kit reads both.

/**
 * A browser's Web Push subscription (docs/protocol.md §7). The endpoint identifies the browser's subscription:
 * subscribing it again (the same or another user signed in) updates this row and keeps its id.
 */
export const pushSubscriptions = pgTable(
  'push_subscriptions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    endpoint: text('endpoint').notNull().unique(),
    /** The browser's P-256 public key and auth secret (RFC 8291), base64url as the browser sends them. */
    p256dh: text('p256dh').notNull(),
    auth: text('auth').notNull(),
    /** Milliseconds since the epoch, as PushSubscription.expirationTime; null: no expiry. */
    expirationTime: bigint('expiration_time', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('push_subscriptions_user_idx').on(table.userId)],
)

/**
 * One push of one notification to one subscription. The row is claimed (inserted) before the request and only
 * its claimer sends: a notification is accepted at most once per subscription, whichever worker runs its job.
 */
export const pushDeliveries = pgTable(
  'push_deliveries',
  {
    notificationId: bigint('notification_id', { mode: 'number' })
      .notNull()
      .references(() => notifications.id, { onDelete: 'cascade' }),
    subscriptionId: bigint('subscription_id', { mode: 'number' })
      .notNull()
      .references(() => pushSubscriptions.id, { onDelete: 'cascade' }),
    /** sending, accepted, gone (404/410), failed (retries exhausted or refused). */
    state: text('state', { enum: ['sending', 'accepted', 'gone', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** The push service's last status; null before the first answer or when none came. */
    lastStatus: integer('last_status'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.notificationId, table.subscriptionId] }),
    index('push_deliveries_created_at_idx').on(table.createdAt),
  ],
)

/**
 * Which users have an authenticated WebSocket on which instance: every socket-holding instance keeps its own
 * rows (written when a user's count there goes from 0 to 1 and back) and refreshes `seen_at` on a heartbeat,
 * so a Web Push worker anywhere can tell an away user from one with a tab open. An instance that died stops
 * counting once `seen_at` is older than PRESENCE_TTL_SECONDS.
 */
export const userConnections = pgTable(
  'user_connections',
  {
    instanceId: text('instance_id').notNull(),
    userId: bigint('user_id', { mode: 'number' }).notNull(),
    /** 0 once the user's last socket here closed; the row then stays a while, with `left_at`. */
    connections: integer('connections').notNull(),
    seenAt: timestamp('seen_at', { withTimezone: true }).notNull().defaultNow(),
    /**
     * When the count went to 0. A notification stored (`created_at`) before then was committed while the user
     * was connected, however late a worker considers it.
     */
    leftAt: timestamp('left_at', { withTimezone: true }),
  },
  (table) => [
    primaryKey({ columns: [table.instanceId, table.userId] }),
    index('user_connections_user_idx').on(table.userId),
  ],
)
