import { sql } from 'drizzle-orm'
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { type JobProgressReport, JobStatusValues } from '../../shared/protocol/jobStatus'
import { TokenStandardValues, TransferStatusValues } from '../../shared/protocol/transferStatus'

// One schema for PGlite and PostgreSQL; drizzle-kit generates ./drizzle from it.

export const users = pgTable('users', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  /** EIP-55 checksummed. */
  address: text('address').notNull().unique(),
  /** The last notification seq handed out for this user; bumped under the row lock in createNotification. */
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
  /**
   * Bumped by every change of the inbox's read, seen or archived state, under the same row lock as last_seq:
   * the counts a change answers carry it, so a client applies them in order whatever way they travel.
   */
  inboxVersion: bigint('inbox_version', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastSignInAt: timestamp('last_sign_in_at', { withTimezone: true }),
})

export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (table) => [index('sessions_user_id_idx').on(table.userId)],
)

export const siweNonces = pgTable(
  'siwe_nonces',
  {
    nonce: text('nonce').primaryKey(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (table) => [index('siwe_nonces_expires_at_idx').on(table.expiresAt)],
)

export const notifications = pgTable(
  'notifications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    type: text('type').notNull(),
    title: text('title').notNull(),
    message: text('message').notNull(),
    data: jsonb('data'),
    /** Published with `critical`: stored and pushed whatever the user's preferences say. */
    critical: boolean('critical').notNull().default(false),
    readAt: timestamp('read_at', { withTimezone: true }),
    /** Shown in a list (the bell was opened); reading marks it seen too. */
    seenAt: timestamp('seen_at', { withTimezone: true }),
    /** Out of the default list and out of the counts; unarchiving clears it. */
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Serves resume (seq > n), paging (seq < before) and the per-user uniqueness of seq.
    uniqueIndex('notifications_user_seq_idx').on(table.userId, table.seq),
    // The counts (docs/protocol.md §7: over notifications that are not archived) read only these.
    index('notifications_user_unread_idx')
      .on(table.userId, table.seq)
      .where(sql`${table.readAt} is null and ${table.archivedAt} is null`),
    index('notifications_user_unseen_idx')
      .on(table.userId, table.seq)
      .where(sql`${table.seenAt} is null and ${table.archivedAt} is null`),
    // The type filter of the list and the types a user has received (the preferences panel).
    index('notifications_user_type_idx').on(table.userId, table.type, table.seq),
  ],
)

/**
 * A user's notification preferences (docs/protocol.md §7), as the API shows them: `{"default":{inApp,push},
 * "types":{...}}`. No row: everything on.
 */
export const notificationPreferences = pgTable('notification_preferences', {
  userId: bigint('user_id', { mode: 'number' })
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  preferences: jsonb('preferences').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
})

export type UserRow = typeof users.$inferSelect
export type NotificationRow = typeof notifications.$inferSelect

/** A background job as the API shows it; pg-boss holds the queue, this holds ownership and the outcome. */
export const jobs = pgTable(
  'jobs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    status: text('status', { enum: JobStatusValues }).notNull().default('pending'),
    data: jsonb('data').notNull(),
    result: jsonb('result'),
    error: text('error'),
    /** Which steps have been announced, so a retried job never notifies twice. */
    progress: jsonb('progress').$type<Record<string, true>>().notNull().default({}),
    /** The latest `ctx.progress` of a running job, as `GET /api/jobs/:id` shows it (`progress` on the wire). */
    report: jsonb('report').$type<JobProgressReport>(),
    /** Set by `POST /api/jobs/:id/cancel` on a running job: its worker aborts `ctx.signal`. */
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('jobs_user_id_idx').on(table.userId, table.id)],
)

/**
 * Every transaction Herald signs, recorded before it is broadcast: a job retried after a crash finds its
 * transaction here and waits for it (or rebroadcasts the same bytes) instead of sending another.
 */
export const chainTransactions = pgTable(
  'chain_transactions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    chainId: bigint('chain_id', { mode: 'number' }).notNull(),
    fromAddress: text('from_address').notNull(),
    nonce: bigint('nonce', { mode: 'number' }).notNull(),
    hash: text('hash').notNull(),
    raw: text('raw').notNull(),
    jobId: bigint('job_id', { mode: 'number' }).references(() => jobs.id, { onDelete: 'set null' }),
    /**
     * Which of its job's transactions this is (`ctx.sendTransaction`'s key). The default is the key of the
     * deployment, so a deployment recorded before jobs had several transactions is found by its retry.
     */
    key: text('key').notNull().default('deploy'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('chain_transactions_nonce_idx').on(table.chainId, table.fromAddress, table.nonce),
    uniqueIndex('chain_transactions_hash_idx').on(table.hash),
    uniqueIndex('chain_transactions_job_key_idx').on(table.jobId, table.key),
  ],
)

/**
 * What a job has done for good, by key: `ctx.step` results (`step:<key>`) and sent notifications
 * (`notify:<key>`). A retried job finds them here and does not repeat them.
 */
export const jobSteps = pgTable(
  'job_steps',
  {
    jobId: bigint('job_id', { mode: 'number' })
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    result: jsonb('result'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.jobId, table.key] })],
)

export const tokens = pgTable(
  'tokens',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    chainId: bigint('chain_id', { mode: 'number' }).notNull(),
    /** EIP-55 checksummed. */
    address: text('address').notNull(),
    name: text('name').notNull(),
    symbol: text('symbol').notNull(),
    /** Whole tokens, as a decimal string (it can exceed any JS number). */
    initialSupply: text('initial_supply').notNull(),
    ownerAddress: text('owner_address').notNull(),
    deploymentTx: text('deployment_tx').notNull(),
    deployedBlock: bigint('deployed_block', { mode: 'number' }).notNull(),
    jobId: bigint('job_id', { mode: 'number' }).references(() => jobs.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('tokens_chain_address_idx').on(table.chainId, table.address),
    uniqueIndex('tokens_job_idx').on(table.jobId),
    index('tokens_user_id_idx').on(table.userId, table.id),
  ],
)

/**
 * One row per Transfer log seen (chain, transaction, log index): a log that reappears after a reorganisation is
 * the same row. The notification ids are the ones told while the transfer stands; a reorganisation that removes
 * it names them in its revert notices and clears them.
 */
export const tokenTransfers = pgTable(
  'token_transfers',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    chainId: bigint('chain_id', { mode: 'number' }).notNull(),
    txHash: text('tx_hash').notNull(),
    logIndex: bigint('log_index', { mode: 'number' }).notNull(),
    /** The block it is in, or for a reorged transfer the block it was last seen in. */
    blockNumber: bigint('block_number', { mode: 'number' }).notNull(),
    /** Null only for transfers recorded before Herald kept block hashes. */
    blockHash: text('block_hash'),
    tokenAddress: text('token_address').notNull(),
    standard: text('standard', { enum: TokenStandardValues }).notNull().default('erc20'),
    fromAddress: text('from_address').notNull(),
    toAddress: text('to_address').notNull(),
    /** ERC-20: base units, as a decimal string; null for ERC-721. */
    value: text('value'),
    /** ERC-721: the token id, as a decimal string; null for ERC-20. */
    tokenId: text('token_id'),
    /** The contract's symbol and decimals when the log was read (for the notifications' words). */
    symbol: text('symbol'),
    decimals: bigint('decimals', { mode: 'number' }),
    status: text('status', { enum: TransferStatusValues }).notNull().default('confirmed'),
    confirmations: bigint('confirmations', { mode: 'number' }).notNull().default(0),
    receivedNotificationId: bigint('received_notification_id', { mode: 'number' }),
    sentNotificationId: bigint('sent_notification_id', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('token_transfers_log_idx').on(table.chainId, table.txHash, table.logIndex),
    // The watcher's per-block work: the transfers still counting confirmations, and those above a fork.
    index('token_transfers_block_idx').on(table.chainId, table.blockNumber),
    index('token_transfers_included_idx')
      .on(table.chainId, table.blockNumber)
      .where(sql`${table.status} = 'included'`),
    // GET /api/transfers: a party's transfers, newest first.
    index('token_transfers_from_idx').on(table.fromAddress, table.id),
    index('token_transfers_to_idx').on(table.toAddress, table.id),
  ],
)

export type TransferRow = typeof tokenTransfers.$inferSelect

/**
 * Contracts registered through the admin API, besides Herald's own tokens (always watched): read from
 * `fromBlock`, the first block after their registration.
 */
export const watchedContracts = pgTable(
  'watched_contracts',
  {
    chainId: bigint('chain_id', { mode: 'number' }).notNull(),
    /** EIP-55 checksummed. */
    address: text('address').notNull(),
    standard: text('standard', { enum: TokenStandardValues }).notNull(),
    /** What the contract answered to symbol() and (ERC-20) decimals() at registration; null if it did not. */
    symbol: text('symbol'),
    decimals: bigint('decimals', { mode: 'number' }),
    fromBlock: bigint('from_block', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('watched_contracts_pk').on(table.chainId, table.address)],
)

export type WatchedContractRow = typeof watchedContracts.$inferSelect

/**
 * The recent chain the transfer watcher has read: one row per block (hash and parent hash) within its window
 * below the tip. A new block whose parent hash differs from the row below it is a reorganisation.
 */
export const chainBlocks = pgTable(
  'chain_blocks',
  {
    chainId: bigint('chain_id', { mode: 'number' }).notNull(),
    number: bigint('number', { mode: 'number' }).notNull(),
    hash: text('hash').notNull(),
    parentHash: text('parent_hash').notNull(),
  },
  (table) => [uniqueIndex('chain_blocks_pk').on(table.chainId, table.number)],
)

/** How far a chain watcher has read, so a restart resumes where it stopped. */
export const chainCursors = pgTable(
  'chain_cursors',
  {
    name: text('name').notNull(),
    chainId: bigint('chain_id', { mode: 'number' }).notNull(),
    block: bigint('block', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('chain_cursors_pk').on(table.name, table.chainId)],
)

export type JobRow = typeof jobs.$inferSelect
export type TokenRow = typeof tokens.$inferSelect

/** Bus messages too large for a NOTIFY payload (8000 bytes) travel by id through this table. */
export const busPayloads = pgTable(
  'bus_payloads',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    payload: jsonb('payload').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('bus_payloads_created_at_idx').on(table.createdAt)],
)

/**
 * Idempotency-Key of publishing and job-starting requests (docs/protocol.md §6), shared by every instance.
 * A row is claimed by the first request (`holder` and `lease_until` while it runs) and then holds its answer
 * (`status`, `body` as sent) until `expires_at`; a lease that lapsed belongs to a request that died.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    /** The caller: `admin` (the admin key) or `user:<id>`. */
    scope: text('scope').notNull(),
    method: text('method').notNull(),
    /** The route's pattern, e.g. /api/notifications/:id/read (its parameters are in the fingerprint). */
    route: text('route').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of the canonical JSON of the request's parameters and body (RFC 8785). */
    fingerprint: text('fingerprint').notNull(),
    /** The request running with this key; null once answered. */
    holder: uuid('holder'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    status: integer('status'),
    /** The answer's body, byte for byte as it was sent. */
    body: text('body'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.scope, table.method, table.route, table.key] }),
    index('idempotency_keys_expires_at_idx').on(table.expiresAt),
  ],
)

/**
 * A channel's counter row (docs/protocol.md §4): `last_seq` hands out its publications' seqs. Created by the
 * first publication (the stream core's `create: true`); a channel nobody published on has no row.
 */
export const channels = pgTable('channels', {
  /** The canonical name (address channels with the checksummed address). */
  name: text('name').primaryKey(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
})

/** Channel publications, kept for CHANNEL_HISTORY_DAYS and at least the last 1,000 of each channel. */
export const channelPublications = pgTable(
  'channel_publications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    channel: text('channel').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    data: jsonb('data'),
    /** The user who sent it; null for the admin API, the server library and Herald's own. */
    fromUserId: bigint('from_user_id', { mode: 'number' }).references(() => users.id, {
      onDelete: 'set null',
    }),
    fromAddress: text('from_address'),
    publishedAt: timestamp('published_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Serves replay (seq > n), history (seq < before) and the per-channel uniqueness of seq.
    uniqueIndex('channel_publications_channel_seq_idx').on(table.channel, table.seq),
    // The retention sweep's scan.
    index('channel_publications_published_at_idx').on(table.publishedAt),
  ],
)
