import { type ConfigOf, type Declaration, variable } from './declaration'
import {
  boolean,
  chainIds,
  contactUrl,
  directory,
  domains,
  hostPatterns,
  integer,
  oneOf,
  origins,
  privateKey,
  secret,
  text,
  url,
  vapidKey,
} from './kinds'

// Every variable Herald reads, declared once. The `Config` type, `loadConfig`, its error sentences and the
// README's configuration table are all derived from this list; the tests check every default and bound.
//
// To add a variable, add one `variable({...})` below: its name in the environment, the `Config` field it
// fills, its kind (see ./kinds), either a `default` (typed, shown in the README) or `unset` (what leaving it
// unset means; the field is then null), and the `doc` for the README. A variable that must be set in some
// configurations gets a line in `configRequirements`. Then run `bun scripts/config-table.ts` for the README.
// A bound may name a variable declared earlier (`integer(1, 'MAX_CONNECTIONS')`), so order matters there.

const KiB = 1024
const MiB = 1024 * KiB
const DAY = 86_400

export const configVariables = [
  variable({
    name: 'NODE_ENV',
    field: 'env',
    kind: oneOf(['development', 'production', 'test']),
    default: 'development',
    doc: 'development generates a missing JWT_SECRET and HERALD_ADMIN_KEY into DATA_DIR',
  }),
  variable({
    name: 'ROLE',
    field: 'role',
    kind: oneOf(['all', 'server', 'worker']),
    default: 'all',
    doc: 'all: server and worker in one process; server: HTTP and WebSocket; worker: jobs and the transfer watcher',
  }),
  variable({ name: 'HOST', field: 'host', kind: text, default: '127.0.0.1', doc: 'interface to listen on' }),
  variable({
    name: 'PORT',
    field: 'port',
    kind: integer(0, 65_535),
    default: 3000,
    doc: 'HTTP and WebSocket port (0 picks a free one)',
  }),
  variable({
    name: 'SERVE_WEB_APP',
    field: 'serveWebApp',
    kind: boolean,
    default: true,
    doc: 'serve the built web app at / (false by default when Herald is mounted in your app: `createHerald`)',
  }),
  variable({
    name: 'DATA_DIR',
    field: 'dataDir',
    kind: directory,
    default: './data',
    doc: 'embedded database, generated secrets and local chain state',
  }),
  variable({
    name: 'DATABASE_URL',
    field: 'databaseUrl',
    kind: url(['postgres:', 'postgresql:']),
    unset: 'embedded PGlite in DATA_DIR',
    doc: 'PostgreSQL connection string',
  }),
  variable({
    name: 'JWT_SECRET',
    field: 'jwtSecret',
    kind: secret(32),
    unset: 'generated into DATA_DIR',
    doc: 'HS256 signing secret of the session tokens',
  }),
  variable({
    name: 'TOKEN_TTL_SECONDS',
    field: 'tokenTtlSeconds',
    kind: integer(1, 31 * DAY),
    default: 3600,
    doc: 'lifetime of one session token; refresh before it ends',
  }),
  variable({
    name: 'SESSION_TTL_SECONDS',
    field: 'sessionTtlSeconds',
    kind: integer(1, 365 * DAY),
    default: 7 * DAY,
    doc: 'how long a sign-in lasts across token refreshes',
  }),
  variable({
    name: 'NONCE_TTL_SECONDS',
    field: 'nonceTtlSeconds',
    kind: integer(1, DAY),
    default: 600,
    doc: 'lifetime of a SIWE nonce',
  }),
  variable({
    name: 'SIWE_DOMAINS',
    field: 'siweDomains',
    kind: domains,
    unset: 'HOST:PORT and localhost:PORT (required when mounted in your app: `createHerald`)',
    doc: 'domains accepted in SIWE messages',
  }),
  variable({
    name: 'CHAIN_RPC_URL',
    field: 'chainRpcUrl',
    kind: url(['http:', 'https:', 'ws:', 'wss:']),
    unset: 'see LOCAL_CHAIN',
    doc: 'JSON-RPC endpoint of the chain tokens are deployed on',
  }),
  variable({
    name: 'LOCAL_CHAIN',
    field: 'localChain',
    kind: boolean,
    default: true,
    doc: 'with no CHAIN_RPC_URL: spawn anvil (state in DATA_DIR), or false to run without a chain',
  }),
  variable({
    name: 'CHAIN_ID',
    field: 'chainId',
    kind: integer(1, Number.MAX_SAFE_INTEGER),
    unset: "the chain's own id",
    doc: 'expected chain id; start-up fails if the RPC reports another',
  }),
  variable({
    name: 'SIWE_CHAIN_IDS',
    field: 'siweChainIds',
    kind: chainIds,
    unset: 'CHAIN_ID',
    doc: 'chain ids accepted in SIWE messages',
  }),
  variable({
    name: 'DEPLOYER_PRIVATE_KEY',
    field: 'deployerPrivateKey',
    kind: privateKey,
    unset: 'anvil dev account 0',
    doc: 'key that deploys tokens and pays for their gas',
  }),
  variable({
    name: 'WATCHER_REORG_WINDOW',
    field: 'watcherReorgWindow',
    kind: integer(1, 10_000),
    default: 128,
    doc: 'block hashes the transfer watcher keeps below its tip to find a fork; deeper reorganisations are reported',
  }),
  variable({
    name: 'TX_BLOCK_CONFIRMATIONS_REQUIRED',
    field: 'confirmations',
    kind: integer(1, 'WATCHER_REORG_WINDOW'),
    default: 1,
    doc: 'blocks a deployment or transfer needs to count (its own is the first); a real chain needs more',
  }),
  variable({
    name: 'JOB_RETRY_LIMIT',
    field: 'jobRetryLimit',
    kind: integer(0, 100),
    default: 3,
    doc: 'retries of a failed job (exponential backoff) before it fails for good',
  }),
  variable({
    name: 'JOB_TIMEOUT_SECONDS',
    field: 'jobTimeoutSeconds',
    kind: integer(1, DAY),
    default: 300,
    doc: 'a job running longer is abandoned and retried',
  }),
  variable({
    name: 'JOB_CONCURRENCY',
    field: 'jobConcurrency',
    kind: integer(1, 100),
    default: 4,
    doc: 'jobs one worker process runs at once',
  }),
  variable({
    name: 'CHAIN_RPC_TIMEOUT_SECONDS',
    field: 'chainRpcTimeoutSeconds',
    kind: integer(1, 600),
    default: 15,
    doc: 'one chain RPC request fails after this long (tried 3 times), so a hung node cannot stall a job',
  }),
  variable({
    name: 'SHUTDOWN_TIMEOUT_SECONDS',
    field: 'shutdownTimeoutSeconds',
    kind: integer(0, 3600),
    default: 15,
    doc: 'on SIGTERM: time running jobs get to finish before they are handed back (exit 1 if 15 s more pass)',
  }),
  variable({
    name: 'WATCHER_INTERVAL_MS',
    field: 'watcherIntervalMs',
    kind: integer(50, 3_600_000),
    default: 1000,
    doc: 'how often the transfer watcher polls the chain',
  }),
  variable({
    name: 'WATCHER_MAX_BLOCK_RANGE',
    field: 'watcherMaxBlockRange',
    kind: integer(1, 100_000),
    default: 500,
    doc: 'most blocks the transfer watcher reads in one request',
  }),
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
  variable({
    name: 'CHANNEL_TOKEN_SECRET',
    field: 'channelTokenSecret',
    kind: secret(32),
    unset: 'generated into DATA_DIR, except in production',
    doc: 'HS256 secret of `private:` channel subscription tokens (Herald and your backend sign with it); unset in production, private channels are closed',
  }),
  variable({
    name: 'MAX_SUBSCRIPTIONS_PER_CONNECTION',
    field: 'maxSubscriptionsPerConnection',
    kind: integer(1, 100_000),
    default: 100,
    doc: 'channels one WebSocket connection may be subscribed to (more: SUBSCRIPTION_LIMIT)',
  }),
  variable({
    name: 'MAX_PUBLICATION_BYTES',
    field: 'maxPublicationBytes',
    kind: integer(16, 16 * MiB),
    default: 16 * KiB,
    doc: "largest channel publication's data, serialised (more: PAYLOAD_TOO_LARGE)",
  }),
  variable({
    name: 'CHANNEL_PUBLISHES_PER_SECOND',
    field: 'channelPublishesPerSecond',
    kind: integer(1, 100_000),
    default: 10,
    doc: 'channel publications per second per user from WebSocket clients (burst of twice that; more: RATE_LIMITED)',
  }),
  variable({
    name: 'CHANNEL_HISTORY_DAYS',
    field: 'channelHistoryDays',
    kind: integer(1, 36_500),
    default: 30,
    doc: 'channel publications are kept this long, and always the last 1,000 of each channel',
  }),
  variable({
    name: 'PRESENCE_TTL_SECONDS',
    field: 'presenceTtlSeconds',
    kind: integer(3, 3600),
    default: 30,
    doc: 'channel members of a server instance that stopped answering leave within this long',
  }),
  variable({
    name: 'VAPID_PUBLIC_KEY',
    field: 'vapidPublicKey',
    kind: vapidKey(65),
    unset: 'generated into DATA_DIR in development; elsewhere Web Push is off',
    doc: 'Web Push (VAPID, RFC 8292) public key: the uncompressed P-256 point, base64url',
  }),
  variable({
    name: 'VAPID_PRIVATE_KEY',
    field: 'vapidPrivateKey',
    kind: vapidKey(32, true),
    unset: 'generated with VAPID_PUBLIC_KEY',
    doc: 'the VAPID private key (the P-256 scalar, base64url); set with VAPID_PUBLIC_KEY',
  }),
  variable({
    name: 'VAPID_SUBJECT',
    field: 'vapidSubject',
    kind: contactUrl,
    default: 'mailto:herald@localhost',
    doc: 'the VAPID `sub`: how a push service reaches the operator (mailto: or https: URL)',
  }),
  variable({
    name: 'PUSH_ENDPOINT_HOSTS',
    field: 'pushEndpointHosts',
    kind: hostPatterns,
    default: [
      'fcm.googleapis.com',
      'updates.push.services.mozilla.com',
      '*.notify.windows.com',
      '*.push.apple.com',
    ],
    doc: 'hosts a Web Push endpoint may be on (host names or IP literals, *.x for subdomains of x); others → 422',
  }),
  variable({
    name: 'PUSH_RETRY_DELAY_MS',
    field: 'pushRetryDelayMs',
    kind: integer(1, 60_000),
    default: 1000,
    doc: 'first delay before a Web Push is retried (then doubled, jittered; 3 retries at most)',
  }),
  variable({
    name: 'ALLOWED_ORIGINS',
    field: 'allowedOrigins',
    kind: origins,
    unset: 'same origin only',
    doc: 'browser origins allowed on /api (CORS) and /ws, * for any; requests without Origin always pass',
  }),
  variable({
    name: 'TRUST_PROXY',
    field: 'trustProxy',
    kind: boolean,
    default: false,
    doc: 'true: the client IP is the first X-Forwarded-For address (set by your proxy)',
  }),
  variable({
    name: 'HERALD_ADMIN_KEY',
    field: 'adminKey',
    kind: secret(16),
    unset: 'generated into DATA_DIR in development',
    doc: 'Bearer key for the publishing routes; unset outside development, they answer 404',
  }),
  variable({
    name: 'LOG_LEVEL',
    field: 'logLevel',
    kind: oneOf(['debug', 'info', 'warn', 'error', 'silent']),
    default: 'info',
    doc: 'least severe log line written',
  }),
  variable({
    name: 'BUS',
    field: 'bus',
    kind: oneOf(['auto', 'memory', 'postgres', 'redis']),
    default: 'auto',
    doc: "how instances reach each other's connections; auto: postgres with DATABASE_URL, else memory",
  }),
  variable({
    name: 'REDIS_URL',
    field: 'redisUrl',
    kind: url(['redis:', 'rediss:', 'valkey:', 'valkeys:']),
    unset: 'none',
    doc: 'Redis for BUS=redis, e.g. redis://127.0.0.1:6379',
  }),
  variable({
    name: 'REDIS_CHANNEL',
    field: 'redisChannel',
    kind: text,
    default: 'herald:bus',
    doc: 'pub/sub channel; give each deployment sharing a Redis its own',
  }),
] satisfies readonly Declaration[]

type Declared = (typeof configVariables)[number]

/** The parsed configuration: one field per declared variable, null where an optional one is unset. */
export type Config = ConfigOf<Declared>
export type Role = Config['role']
export type ConfigVariableName = Declared['name']

/** A variable that must be set in some configurations (the error is `NAME must be set when <when>.`). */
export interface Requirement {
  readonly variable: ConfigVariableName
  readonly when: string
  readonly applies: (config: Config) => boolean
}

export const configRequirements: readonly Requirement[] = [
  {
    variable: 'JWT_SECRET',
    when: 'NODE_ENV is production',
    applies: (config) => config.env === 'production',
  },
  {
    variable: 'DEPLOYER_PRIVATE_KEY',
    when: 'CHAIN_RPC_URL is set, unless ROLE is server',
    applies: (config) => config.chainRpcUrl !== null && config.role !== 'server',
  },
  {
    variable: 'VAPID_PRIVATE_KEY',
    when: 'VAPID_PUBLIC_KEY is set',
    applies: (config) => config.vapidPublicKey !== null,
  },
  {
    variable: 'VAPID_PUBLIC_KEY',
    when: 'VAPID_PRIVATE_KEY is set',
    applies: (config) => config.vapidPrivateKey !== null,
  },
  { variable: 'REDIS_URL', when: 'BUS is redis', applies: (config) => config.bus === 'redis' },
]
