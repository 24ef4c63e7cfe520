import { type Declaration, variable } from '../declaration'
import { integer } from '../kinds'

const KiB = 1024
const MiB = 1024 * KiB

/** The variables of connections, frames and rate limits (README order; see ../variables.ts for how to add one). */
export const limitsVariables = [
  variable({
    name: 'MAX_CONNECTIONS',
    field: 'maxConnections',
    kind: integer(1, 1_000_000),
    default: 10_000,
    doc: 'WebSocket connections per server instance',
  }),
  variable({
    name: 'MAX_CONNECTIONS_PER_USER',
    field: 'maxConnectionsPerUser',
    kind: integer(1, 'MAX_CONNECTIONS'),
    default: 10,
    doc: 'WebSocket connections per user per instance',
  }),
  variable({
    name: 'MAX_FRAME_BYTES',
    field: 'maxFrameBytes',
    kind: integer(128, 16 * MiB),
    default: 64 * KiB,
    doc: 'largest WebSocket frame accepted (larger closes 1009)',
  }),
  variable({
    name: 'MAX_BODY_BYTES',
    field: 'maxBodyBytes',
    kind: integer(KiB, 64 * MiB),
    default: 256 * KiB,
    doc: 'largest HTTP request body accepted (larger answers 413)',
  }),
  variable({
    name: 'IDLE_TIMEOUT_SECONDS',
    field: 'idleTimeoutSeconds',
    kind: integer(5, 960),
    default: 60,
    doc: 'a socket silent this long (pings unanswered) is closed',
  }),
  variable({
    name: 'TOKEN_EXPIRY_GRACE_SECONDS',
    field: 'tokenExpiryGraceSeconds',
    kind: integer(0, 3600),
    default: 30,
    doc: 'time to send a fresh auth after TOKEN_EXPIRED before close 4001',
  }),
  variable({
    name: 'REPLAY_CAP',
    field: 'replayCap',
    kind: integer(1, 100_000),
    default: 1000,
    doc: 'most notifications one resume replays before answering reset',
  }),
  variable({
    name: 'WS_MESSAGES_PER_SECOND',
    field: 'wsMessagesPerSecond',
    kind: integer(1, 100_000),
    default: 50,
    doc: 'client messages per second per connection (burst of twice that)',
  }),
  variable({
    name: 'SEND_BUFFER_LIMIT_BYTES',
    field: 'sendBufferLimitBytes',
    kind: integer(KiB, 1024 * MiB),
    default: MiB,
    doc: 'unsent bytes a slow client may hold before close 4009',
  }),
  variable({
    name: 'AUTH_TIMEOUT_SECONDS',
    field: 'authTimeoutSeconds',
    kind: integer(0, 3600),
    default: 0,
    doc: 'close (4001) sockets not authenticated this long after opening; 0: anonymous sockets may stay',
  }),
  variable({
    name: 'MAX_ANONYMOUS_CONNECTIONS_PER_IP',
    field: 'maxAnonymousConnectionsPerIp',
    kind: integer(1, 'MAX_CONNECTIONS'),
    default: 20,
    doc: 'unauthenticated WebSocket connections per client IP per instance (more: RATE_LIMITED, close 4008)',
  }),
  variable({
    name: 'WS_CONNECTIONS_PER_SECOND_PER_IP',
    field: 'wsConnectionsPerSecondPerIp',
    kind: integer(1, 100_000),
    default: 20,
    doc: 'new WebSocket connections per second per client IP (burst of twice that; more: HTTP 429)',
  }),
  variable({
    name: 'WS_USER_MESSAGES_PER_SECOND',
    field: 'wsUserMessagesPerSecond',
    kind: integer(1, 1_000_000),
    default: 100,
    doc: 'client messages per second per user over all their connections (burst of twice that)',
  }),
  variable({
    name: 'AUTH_RATE_PER_MINUTE',
    field: 'authRatePerMinute',
    kind: integer(1, 1_000_000),
    default: 60,
    doc: 'POST /api/auth/nonce and /api/auth/verify per client IP per minute (more: 429)',
  }),
  variable({
    name: 'ADMIN_RATE_PER_SECOND',
    field: 'adminRatePerSecond',
    kind: integer(1, 1_000_000),
    default: 1000,
    doc: 'admin publishing requests per second (burst of twice that; more: 429)',
  }),
  variable({
    name: 'ADMIN_BATCH_MAX',
    field: 'adminBatchMax',
    kind: integer(1, 100_000),
    default: 1000,
    doc: 'most notifications in one `POST /api/admin/notifications/batch` (more: 422)',
  }),
] satisfies readonly Declaration[]
