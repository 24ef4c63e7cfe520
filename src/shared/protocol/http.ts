import { t } from 'elysia'
import { JobStatusValues } from './jobStatus'
import { NotificationSchema, PublicationSchema } from './messages'
import {
  TOKEN_DECIMALS,
  TOKEN_NAME_MAX_CHARS,
  TOKEN_NAME_MAX_UTF16,
  TOKEN_SUPPLY_PATTERN,
  TOKEN_SYMBOL_MAX,
  TOKEN_SYMBOL_PATTERN,
} from './tokenRules'
import { TokenStandardValues, TransferStatusValues } from './transferStatus'

// HTTP shapes of the contract (docs/protocol.md §1), shared by the routes (validation + OpenAPI) and the SDK.

export const ErrorBodySchema = t.Object({
  error: t.Object({ code: t.String(), message: t.String() }),
})
export type ErrorBody = typeof ErrorBodySchema.static

export const UserSchema = t.Object({ id: t.String(), address: t.String() })
export type User = typeof UserSchema.static

export const NonceResponseSchema = t.Object({ nonce: t.String(), expiresAt: t.String() })
export const VerifyBodySchema = t.Object({
  message: t.String({ minLength: 1, maxLength: 4096 }),
  signature: t.String({ minLength: 1, maxLength: 20000 }),
})
export const SessionResponseSchema = t.Object({ token: t.String(), expiresAt: t.String(), user: UserSchema })
export type SessionResponse = typeof SessionResponseSchema.static

const TypeNameSchema = t.String({ minLength: 1, maxLength: 100 })
/** Most `type` filters one list request may name. */
export const MAX_TYPE_FILTERS = 20
export const ListNotificationsQuerySchema = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20 })),
  before: t.Optional(t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
  unread: t.Optional(t.Boolean()),
  /** §7: the archive (true) or the inbox (false, the default). */
  archived: t.Optional(t.Boolean()),
  /** §7: only these types (`type=a&type=b`). */
  type: t.Optional(t.Union([TypeNameSchema, t.Array(TypeNameSchema, { maxItems: MAX_TYPE_FILTERS })])),
})
export const ListNotificationsResponseSchema = t.Object({
  notifications: t.Array(NotificationSchema),
  nextBefore: t.Union([t.Integer(), t.Null()]),
  unreadCount: t.Integer(),
  unseenCount: t.Integer(),
})
export type ListNotificationsResponse = typeof ListNotificationsResponseSchema.static

/** The counts of §7 and where they stand (see InboxCounts in serverMessages.ts). */
const countFields = {
  unreadCount: t.Integer(),
  unseenCount: t.Integer(),
  seq: t.Integer(),
  version: t.Integer(),
}
export const UnreadCountResponseSchema = t.Object(countFields)
export type UnreadCountResponse = typeof UnreadCountResponseSchema.static
export const MarkReadResponseSchema = t.Object({ notification: NotificationSchema, ...countFields })
export type MarkReadResponse = typeof MarkReadResponseSchema.static
const UpToSeqSchema = t.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
/** `upToSeq` defaults to the latest seq when the request arrives; a larger one means the same. */
export const UpToSeqBodySchema = t.Object({ upToSeq: t.Optional(UpToSeqSchema) })
export const MarkAllReadResponseSchema = t.Object({
  updated: t.Integer(),
  upToSeq: t.Integer(),
  ...countFields,
})
export type MarkAllReadResponse = typeof MarkAllReadResponseSchema.static
export const MarkSeenResponseSchema = t.Object({ updated: t.Integer(), upToSeq: t.Integer(), ...countFields })
export type MarkSeenResponse = typeof MarkSeenResponseSchema.static
export const ArchiveResponseSchema = MarkReadResponseSchema
export type ArchiveResponse = MarkReadResponse
/** The types a user has received, for a preferences panel (Herald's addition, §3). */
export const NotificationTypesResponseSchema = t.Object({ types: t.Array(t.String()) })

const ChannelPreferenceSchema = t.Object({ inApp: t.Boolean(), push: t.Boolean() })
/** §7: what the user wants, per type of notification; types not named follow `default`. */
export const PreferencesSchema = t.Object({
  default: ChannelPreferenceSchema,
  types: t.Record(TypeNameSchema, ChannelPreferenceSchema),
})
export type Preferences = typeof PreferencesSchema.static
/** Most types one user's preferences may name. */
export const MAX_PREFERENCE_TYPES = 200
/** `PUT /api/preferences`: the same shape; a field left out takes the default's (`default` itself: on). */
export const PreferencesBodySchema = t.Object(
  {
    default: t.Optional(t.Object({ inApp: t.Optional(t.Boolean()), push: t.Optional(t.Boolean()) })),
    types: t.Optional(
      t.Record(TypeNameSchema, t.Object({ inApp: t.Optional(t.Boolean()), push: t.Optional(t.Boolean()) })),
    ),
  },
  { additionalProperties: false },
)
export type PreferencesBody = typeof PreferencesBodySchema.static
/**
 * A row id in decimal: 1 to 15 digits. The server handles ids as JavaScript numbers, so longer ones (beyond
 * 2^53, or beyond bigint) cannot name a row; they are bad input (422) rather than a database error.
 */
const ID_PATTERN = '^[1-9][0-9]{0,14}$'
export const IdParamsSchema = t.Object({ id: t.String({ pattern: ID_PATTERN }) })

/** An address in any case (it is checksummed on output). */
const ADDRESS_PATTERN = '^0x[0-9a-fA-F]{40}$'

/** A recipient of the admin routes: exactly one of the two (checked by the route). */
export const recipientFields = {
  userId: t.Optional(t.String({ pattern: ID_PATTERN })),
  address: t.Optional(t.String({ pattern: ADDRESS_PATTERN })),
}
const contentFields = {
  type: t.String({ minLength: 1, maxLength: 100 }),
  title: t.String({ maxLength: 500 }),
  message: t.String({ maxLength: 10000 }),
  data: t.Optional(t.Unknown()),
  /** §7: stored and pushed whatever the user's preferences say. */
  critical: t.Optional(t.Boolean()),
}
/** Exactly one of userId and address names the recipient (checked by the route). */
export const AdminPublishBodySchema = t.Object({ ...recipientFields, ...contentFields })
export type AdminPublishBody = typeof AdminPublishBodySchema.static
/** `notification` null with `suppressed: "preference"`: the user turned this type off in the app (§7). */
export const AdminPublishResponseSchema = t.Object({
  notification: t.Union([NotificationSchema, t.Null()]),
  userId: t.String(),
  suppressed: t.Optional(t.Literal('preference')),
})
export type AdminPublishResponse = typeof AdminPublishResponseSchema.static
/**
 * `POST /api/admin/notifications/batch`: exactly one of `notifications` (each entry is a single publish's
 * body) and `recipients` + `notification` (the same content for every recipient), checked by the route, as
 * is the most entries one request may hold.
 */
export const AdminPublishBatchBodySchema = t.Object({
  notifications: t.Optional(t.Array(AdminPublishBodySchema, { minItems: 1 })),
  recipients: t.Optional(t.Array(t.Object(recipientFields), { minItems: 1 })),
  notification: t.Optional(t.Object(contentFields)),
})
export type AdminPublishBatchBody = typeof AdminPublishBatchBodySchema.static
/** One result per entry, in request order. */
export const AdminPublishBatchResponseSchema = t.Object({ results: t.Array(AdminPublishResponseSchema) })
export type AdminPublishBatchResponse = typeof AdminPublishBatchResponseSchema.static
export const AdminBroadcastBodySchema = t.Object({
  message: t.Object({ type: t.String({ minLength: 1 }) }, { additionalProperties: true }),
})
export const AdminBroadcastResponseSchema = t.Object({ delivered: t.Integer() })
export type AdminBroadcastResponse = typeof AdminBroadcastResponseSchema.static

export const HealthResponseSchema = t.Object({
  status: t.Union([t.Literal('ok'), t.Literal('unavailable')]),
  db: t.Union([t.Literal('ok'), t.Literal('unavailable')]),
  chain: t.Union([t.Literal('ok'), t.Literal('unavailable')]),
  role: t.Union([t.Literal('all'), t.Literal('server'), t.Literal('worker')]),
})
export const ConfigResponseSchema = t.Object({
  chainId: t.Integer(),
  rpcUrl: t.Union([t.String(), t.Null()]),
  siweDomain: t.String(),
  version: t.String(),
  /** The address Herald signs transactions with (the airdrop spends what the owner approved it): null without. */
  deployerAddress: t.Union([t.String(), t.Null()]),
})
/**
 * `GET /api/chain` (Herald's addition, §3): how Herald counts a transfer final, so a client can show "n of N
 * confirmations", and how deep a reorganisation it follows exactly.
 */
export const ChainInfoResponseSchema = t.Object({
  chainId: t.Integer(),
  requiredConfirmations: t.Integer(),
  reorgWindow: t.Integer(),
})
export type ChainInfo = typeof ChainInfoResponseSchema.static

export const CreateTokenBodySchema = t.Object({
  name: t.String({
    minLength: 1,
    maxLength: TOKEN_NAME_MAX_UTF16,
    description: `1–${TOKEN_NAME_MAX_CHARS} characters, not blank`,
  }),
  symbol: t.String({ pattern: TOKEN_SYMBOL_PATTERN, description: `1–${TOKEN_SYMBOL_MAX} of A–Z and 0–9` }),
  initialSupply: t.String({
    pattern: TOKEN_SUPPLY_PATTERN,
    description: `whole tokens in decimal digits; × 10^${TOKEN_DECIMALS} must fit in uint256`,
  }),
})
export type CreateTokenBody = typeof CreateTokenBodySchema.static
export const CreateTokenResponseSchema = t.Object({ jobId: t.String() })
export type CreateTokenResponse = typeof CreateTokenResponseSchema.static
export const TokenSchema = t.Object({
  id: t.String(),
  address: t.String(),
  name: t.String(),
  symbol: t.String(),
  initialSupply: t.String(),
  ownerAddress: t.String(),
  deploymentTx: t.String(),
  createdAt: t.String(),
})
export type Token = typeof TokenSchema.static
export const ListTokensResponseSchema = t.Object({ tokens: t.Array(TokenSchema) })
export const JobProgressSchema = t.Object({
  step: t.String(),
  done: t.Optional(t.Number()),
  total: t.Optional(t.Number()),
  message: t.Optional(t.String()),
})
export const JobSchema = t.Object({
  id: t.String(),
  type: t.String(),
  status: t.Enum(Object.fromEntries(JobStatusValues.map((status) => [status, status]))),
  data: t.Unknown(),
  /** The latest progress a running job reported (§5), or null. */
  progress: t.Union([JobProgressSchema, t.Null()]),
  result: t.Union([t.Unknown(), t.Null()]),
  error: t.Union([t.String(), t.Null()]),
  createdAt: t.String(),
  updatedAt: t.String(),
})
export type Job = typeof JobSchema.static
export const JobResponseSchema = t.Object({ job: JobSchema })
export const ListJobsResponseSchema = t.Object({
  jobs: t.Array(JobSchema),
  nextBefore: t.Union([t.String(), t.Null()]),
})
export const ListJobsQuerySchema = t.Object({
  status: t.Optional(t.String()),
  type: t.Optional(t.String()),
  before: t.Optional(t.String()),
  limit: t.Optional(t.String()),
})
export const StartJobBodySchema = t.Object({
  type: t.String({ minLength: 1, maxLength: 63 }),
  input: t.Unknown(),
})

/**
 * A Transfer event of a watched token and where it stands (docs/protocol.md §8): ERC-20 transfers carry
 * `value`, ERC-721 transfers `tokenId`. A reorged transfer keeps the block it was last seen in.
 */
export const TransferSchema = t.Object({
  id: t.String(),
  token: t.String(),
  standard: t.UnionEnum(TokenStandardValues),
  from: t.String(),
  to: t.String(),
  value: t.Optional(t.String()),
  tokenId: t.Optional(t.String()),
  txHash: t.String(),
  logIndex: t.Integer(),
  blockNumber: t.Integer(),
  /** Null only for transfers recorded before Herald kept block hashes. */
  blockHash: t.Union([t.String(), t.Null()]),
  status: t.UnionEnum(TransferStatusValues),
  confirmations: t.Integer(),
  updatedAt: t.String(),
})
export type Transfer = typeof TransferSchema.static
export const ListTransfersQuerySchema = t.Object({
  token: t.Optional(t.String({ pattern: ADDRESS_PATTERN })),
  before: t.Optional(t.String({ pattern: ID_PATTERN })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20 })),
})
export const ListTransfersResponseSchema = t.Object({
  transfers: t.Array(TransferSchema),
  nextBefore: t.Union([t.String(), t.Null()]),
})
export type ListTransfersResponse = typeof ListTransfersResponseSchema.static

/** A contract registered with the admin API; Herald's own tokens are watched without being listed. */
export const WatchedContractSchema = t.Object({
  address: t.String(),
  standard: t.UnionEnum(TokenStandardValues),
  createdAt: t.String(),
})
export type WatchedContract = typeof WatchedContractSchema.static
export const WatchContractBodySchema = t.Object({
  address: t.String({ pattern: ADDRESS_PATTERN }),
  standard: t.UnionEnum(TokenStandardValues),
})
export const WatchContractResponseSchema = t.Object({ contract: WatchedContractSchema })
export const ListWatchedContractsResponseSchema = t.Object({ contracts: t.Array(WatchedContractSchema) })
export const AddressParamsSchema = t.Object({ address: t.String({ pattern: ADDRESS_PATTERN }) })
// Channels (docs/protocol.md §4). A channel name in a path is checked by the route, which answers a bad one with
// 422 INVALID_CHANNEL rather than a schema's INVALID_INPUT.

export const ChannelParamsSchema = t.Object({ channel: t.String() })
export const ChannelHistoryQuerySchema = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20 })),
  before: t.Optional(t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
})
export const ChannelHistoryResponseSchema = t.Object({
  publications: t.Array(PublicationSchema),
  nextBefore: t.Union([t.Integer(), t.Null()]),
})
export type ChannelHistoryResponse = typeof ChannelHistoryResponseSchema.static
export const ChannelPresenceResponseSchema = t.Object({
  channel: t.String(),
  users: t.Integer(),
  connections: t.Integer(),
  members: t.Optional(
    t.Array(t.Object({ userId: t.String(), address: t.String(), connections: t.Integer() })),
  ),
})
export type ChannelPresenceResponse = typeof ChannelPresenceResponseSchema.static
export const AdminChannelPublishBodySchema = t.Object({ data: t.Unknown() })
export const AdminChannelPublishResponseSchema = t.Object({ publication: PublicationSchema })
/** Subscription tokens: `ttlSeconds` 1–86,400 (default 3,600). Exactly one of userId and address (the route). */
export const CHANNEL_TOKEN_TTL_DEFAULT = 3600
export const CHANNEL_TOKEN_TTL_MAX = 86_400
export const ChannelTokenBodySchema = t.Object({
  ...recipientFields,
  channel: t.String(),
  ttlSeconds: t.Optional(t.Integer({ minimum: 1, maximum: CHANNEL_TOKEN_TTL_MAX })),
})
export const ChannelTokenResponseSchema = t.Object({ token: t.String(), expiresAt: t.String() })

/** Web Push (docs/protocol.md §7): the VAPID public key, and a browser's PushSubscription as toJSON() gives it. */
export const VapidPublicKeyResponseSchema = t.Object({ key: t.String() })
export const PUSH_ENDPOINT_MAX = 2048
export const PushSubscriptionBodySchema = t.Object({
  endpoint: t.String({ minLength: 1, maxLength: PUSH_ENDPOINT_MAX }),
  expirationTime: t.Optional(t.Union([t.Null(), t.Number({ minimum: 0 })])),
  keys: t.Object({
    p256dh: t.String({ minLength: 1, maxLength: 200 }),
    auth: t.String({ minLength: 1, maxLength: 100 }),
  }),
})
export const PushSubscriptionResponseSchema = t.Object({ id: t.String() })
export const PushUnsubscribeBodySchema = t.Object({
  endpoint: t.String({ minLength: 1, maxLength: PUSH_ENDPOINT_MAX }),
})
/** The JSON a push carries, encrypted (aes128gcm) for the browser's service worker. */
export const PushPayloadSchema = t.Object({
  id: t.String(),
  seq: t.Integer(),
  type: t.String(),
  title: t.String(),
  message: t.String(),
  url: t.Optional(t.String()),
})
export type PushPayload = typeof PushPayloadSchema.static
