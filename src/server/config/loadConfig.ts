import { resolve } from 'node:path'
import { ConfigError } from '../errors'

export type Role = 'all' | 'server' | 'worker'

export interface Config {
  env: 'development' | 'production' | 'test'
  role: Role
  host: string
  port: number
  dataDir: string
  /** Unset: embedded PGlite under dataDir. */
  databaseUrl: string | null
  /** Unset in development: generated once and kept in dataDir (see ensureJwtSecret). */
  jwtSecret: string | null
  tokenTtlSeconds: number
  sessionTtlSeconds: number
  nonceTtlSeconds: number
  /** Unset: the host:port the server listens on, plus localhost:port. */
  siweDomains: string[] | null
  /** Null: taken from the chain at start-up (31337 for the local anvil). */
  chainId: number | null
  /** Null: the chain's id. */
  siweChainIds: number[] | null
  chainRpcUrl: string | null
  /** With no CHAIN_RPC_URL: spawn anvil (true) or run without a chain (false). */
  localChain: boolean
  deployerPrivateKey: `0x${string}` | null
  confirmations: number
  jobRetryLimit: number
  jobTimeoutSeconds: number
  jobConcurrency: number
  /** One chain RPC call (each of its retries) may take this long before it fails. */
  chainRpcTimeoutSeconds: number
  /** On SIGTERM: how long running jobs may take to finish before they are handed back. */
  shutdownTimeoutSeconds: number
  watcherIntervalMs: number
  watcherMaxBlockRange: number
  maxConnections: number
  maxConnectionsPerUser: number
  maxFrameBytes: number
  maxBodyBytes: number
  idleTimeoutSeconds: number
  tokenExpiryGraceSeconds: number
  replayCap: number
  wsMessagesPerSecond: number
  sendBufferLimitBytes: number
  /** Seconds a WebSocket may stay unauthenticated; 0: anonymous connections stay (they receive broadcasts). */
  authTimeoutSeconds: number
  maxAnonymousConnectionsPerIp: number
  /** New WebSocket connections per second per client IP (bursts of twice that). */
  wsConnectionsPerSecondPerIp: number
  /** Client messages per second per user across all their connections (bursts of twice that). */
  wsUserMessagesPerSecond: number
  /** POST /api/auth/nonce and /api/auth/verify per client IP per minute (together). */
  authRatePerMinute: number
  /** Admin publishing requests per second (bursts of twice that). */
  adminRatePerSecond: number
  adminBatchMax: number
  /** Browser origins allowed besides the server's own; null: same origin only; ['*']: any. */
  allowedOrigins: string[] | null
  /** Take the client IP from the first X-Forwarded-For address (only behind a proxy that sets it). */
  trustProxy: boolean
  adminKey: string | null
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent'
  /** How instances reach each other's connections; 'auto' is postgres with DATABASE_URL, else memory. */
  bus: 'auto' | 'memory' | 'postgres' | 'redis'
  redisUrl: string | null
  /** Redis pub/sub channel: deployments sharing one Redis need different ones. */
  redisChannel: string
}

type Env = Record<string, string | undefined>

/** Every variable Herald reads, with its default: the README's table is written from this list. */
export const ConfigVariables = [
  ['NODE_ENV', 'development', 'development, production or test; production requires JWT_SECRET'],
  ['ROLE', 'all', 'all (server and worker), server or worker'],
  ['HOST', '127.0.0.1', 'interface to listen on'],
  ['PORT', '3000', 'HTTP and WebSocket port (0 picks a free one)'],
  ['DATA_DIR', './data', 'embedded database, generated secrets and local chain state'],
  ['DATABASE_URL', '(unset: embedded PGlite)', 'PostgreSQL connection string'],
  ['JWT_SECRET', '(generated in DATA_DIR)', 'HS256 signing secret, at least 32 characters'],
  ['TOKEN_TTL_SECONDS', '3600', 'lifetime of one session token; refresh before it ends'],
  ['SESSION_TTL_SECONDS', '604800', 'how long a sign-in lasts across token refreshes'],
  ['NONCE_TTL_SECONDS', '600', 'lifetime of a SIWE nonce'],
  ['SIWE_DOMAINS', '(HOST:PORT and localhost:PORT)', 'comma-separated domains accepted in SIWE messages'],
  ['CHAIN_RPC_URL', '(unset: spawn a local anvil)', 'JSON-RPC endpoint of the chain tokens are deployed on'],
  [
    'LOCAL_CHAIN',
    'true',
    'with no CHAIN_RPC_URL: spawn anvil (state in DATA_DIR), or false to run without a chain',
  ],
  ['CHAIN_ID', "(the chain's own id)", 'expected chain id; start-up fails if the RPC reports another'],
  ['SIWE_CHAIN_IDS', '(CHAIN_ID)', 'comma-separated chain ids accepted in SIWE messages'],
  ['DEPLOYER_PRIVATE_KEY', '(anvil dev account 0)', 'key that deploys tokens; required with CHAIN_RPC_URL'],
  ['TX_BLOCK_CONFIRMATIONS_REQUIRED', '1', 'blocks a deployment or transfer needs before it counts'],
  ['JOB_RETRY_LIMIT', '3', 'retries of a failed job (exponential backoff) before it fails for good'],
  ['JOB_TIMEOUT_SECONDS', '300', 'a job running longer is abandoned and retried'],
  ['JOB_CONCURRENCY', '4', 'jobs one worker process runs at once'],
  [
    'CHAIN_RPC_TIMEOUT_SECONDS',
    '15',
    'one chain RPC request fails after this long (tried 3 times), so a hung node cannot stall a job',
  ],
  [
    'SHUTDOWN_TIMEOUT_SECONDS',
    '15',
    'on SIGTERM: time running jobs get to finish before they are handed back (exit 1 if 15 s more pass)',
  ],
  ['WATCHER_INTERVAL_MS', '1000', 'how often the transfer watcher polls the chain'],
  ['WATCHER_MAX_BLOCK_RANGE', '500', 'most blocks the transfer watcher reads in one request'],
  ['MAX_CONNECTIONS', '10000', 'WebSocket connections per server instance'],
  ['MAX_CONNECTIONS_PER_USER', '10', 'WebSocket connections per user per instance'],
  ['MAX_FRAME_BYTES', '65536', 'largest WebSocket frame accepted (larger closes 1009)'],
  ['MAX_BODY_BYTES', '262144', 'largest HTTP request body accepted (larger answers 413)'],
  ['IDLE_TIMEOUT_SECONDS', '60', 'a socket silent this long (pings unanswered) is closed'],
  ['TOKEN_EXPIRY_GRACE_SECONDS', '30', 'time to send a fresh auth after TOKEN_EXPIRED before close 4001'],
  ['REPLAY_CAP', '1000', 'most notifications one resume replays before answering reset'],
  ['WS_MESSAGES_PER_SECOND', '50', 'client messages per second per connection (burst of twice that)'],
  ['SEND_BUFFER_LIMIT_BYTES', '1048576', 'unsent bytes a slow client may hold before close 4009'],
  [
    'AUTH_TIMEOUT_SECONDS',
    '0',
    'close (4001) sockets not authenticated this long after opening; 0: anonymous sockets may stay',
  ],
  [
    'MAX_ANONYMOUS_CONNECTIONS_PER_IP',
    '20',
    'unauthenticated WebSocket connections per client IP per instance (more: RATE_LIMITED, close 4008)',
  ],
  [
    'WS_CONNECTIONS_PER_SECOND_PER_IP',
    '20',
    'new WebSocket connections per second per client IP (burst of twice that; more: HTTP 429)',
  ],
  [
    'WS_USER_MESSAGES_PER_SECOND',
    '100',
    'client messages per second per user over all their connections (burst of twice that)',
  ],
  [
    'AUTH_RATE_PER_MINUTE',
    '60',
    'POST /api/auth/nonce and /api/auth/verify per client IP per minute (more: 429)',
  ],
  ['ADMIN_RATE_PER_SECOND', '1000', 'admin publishing requests per second (burst of twice that; more: 429)'],
  ['ADMIN_BATCH_MAX', '1000', 'most notifications in one `POST /api/admin/notifications/batch` (more: 422)'],
  [
    'ALLOWED_ORIGINS',
    '(unset: same origin only)',
    'comma-separated browser origins allowed on /api (CORS) and /ws, or *; requests without Origin always pass',
  ],
  ['TRUST_PROXY', 'false', 'true: the client IP is the first X-Forwarded-For address (set by your proxy)'],
  ['HERALD_ADMIN_KEY', '(unset: admin routes answer 404)', 'Bearer key for the publishing routes'],
  ['LOG_LEVEL', 'info', 'debug, info, warn, error or silent'],
  ['BUS', 'auto', 'auto (postgres with DATABASE_URL, else memory), memory, postgres or redis'],
  ['REDIS_URL', '(unset)', 'Redis for BUS=redis, e.g. redis://127.0.0.1:6379'],
  ['REDIS_CHANNEL', 'herald:bus', 'pub/sub channel; give each deployment sharing a Redis its own'],
] as const

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}".`)
  const value = Number(raw.trim())
  if (value < min || value > max)
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}.`)
  return value
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim()
  if (!raw) return fallback
  if (!allowed.includes(raw as T))
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}".`)
  return raw as T
}

function list(env: Env, name: string): string[] | null {
  const raw = env[name]?.trim()
  if (!raw) return null
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (items.length === 0) throw new ConfigError(`${name} must list at least one value.`)
  return items
}

function origins(env: Env, name: string): string[] | null {
  const items = list(env, name)
  if (items === null) return null
  return items.map((item) => {
    if (item === '*') return item
    let parsed: URL | null = null
    try {
      parsed = new URL(item)
    } catch {}
    const bare = parsed && parsed.pathname === '/' && !parsed.search && !parsed.hash && !parsed.username
    if (!parsed || !bare || !['http:', 'https:'].includes(parsed.protocol))
      throw new ConfigError(`${name} must list origins like https://app.example.com (or *), got "${item}".`)
    return parsed.origin
  })
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = env[name]?.trim()
  if (!raw) return null
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(`${name} must be a URL, got something that does not parse.`)
  }
  if (!protocols.includes(parsed.protocol))
    throw new ConfigError(`${name} must start with ${protocols.join(' or ')}, got "${parsed.protocol}".`)
  return raw
}

/** Parses and validates the environment once; a bad value throws one ConfigError sentence naming it. */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development')
  const jwtSecret = env.JWT_SECRET?.trim() || null
  if (jwtSecret !== null && jwtSecret.length < 32)
    throw new ConfigError('JWT_SECRET must be at least 32 characters long.')
  if (jwtSecret === null && nodeEnv === 'production')
    throw new ConfigError('JWT_SECRET must be set when NODE_ENV is production.')
  const adminKey = env.HERALD_ADMIN_KEY?.trim() || null
  if (adminKey !== null && adminKey.length < 16)
    throw new ConfigError('HERALD_ADMIN_KEY must be at least 16 characters long.')

  const chainId = env.CHAIN_ID?.trim() ? int(env, 'CHAIN_ID', 0, 1, Number.MAX_SAFE_INTEGER) : null
  const siweChainIds =
    list(env, 'SIWE_CHAIN_IDS')?.map((id) => {
      if (!/^\d+$/.test(id) || Number(id) < 1)
        throw new ConfigError(`SIWE_CHAIN_IDS must list positive whole numbers, got "${id}".`)
      return Number(id)
    }) ?? null
  const chainRpcUrl = url(env, 'CHAIN_RPC_URL', ['http:', 'https:', 'ws:', 'wss:'])
  const deployerPrivateKey = env.DEPLOYER_PRIVATE_KEY?.trim() || null
  if (deployerPrivateKey !== null && !/^0x[0-9a-fA-F]{64}$/.test(deployerPrivateKey))
    throw new ConfigError('DEPLOYER_PRIVATE_KEY must be 0x followed by 64 hex digits.')
  const role = oneOf(env, 'ROLE', ['all', 'server', 'worker'] as const, 'all')
  if (chainRpcUrl !== null && deployerPrivateKey === null && role !== 'server')
    throw new ConfigError(
      'DEPLOYER_PRIVATE_KEY must be set when CHAIN_RPC_URL is set (it pays for deployments).',
    )
  const bus = oneOf(env, 'BUS', ['auto', 'memory', 'postgres', 'redis'] as const, 'auto')
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:', 'valkey:', 'valkeys:'])
  if (bus === 'redis' && redisUrl === null) throw new ConfigError('REDIS_URL must be set when BUS is redis.')
  const localChain = oneOf(env, 'LOCAL_CHAIN', ['true', 'false'] as const, 'true') === 'true'
  const siweDomains = list(env, 'SIWE_DOMAINS')
  for (const domain of siweDomains ?? []) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(domain))
      throw new ConfigError(`SIWE_DOMAINS must list host or host:port values, got "${domain}".`)
  }
  const host = env.HOST?.trim() || '127.0.0.1'
  const maxConnections = int(env, 'MAX_CONNECTIONS', 10_000, 1, 1_000_000)

  return {
    env: nodeEnv,
    role,
    host,
    port: int(env, 'PORT', 3000, 0, 65535),
    dataDir: resolve(env.DATA_DIR?.trim() || './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    jwtSecret,
    tokenTtlSeconds: int(env, 'TOKEN_TTL_SECONDS', 3600, 1, 31 * 86400),
    sessionTtlSeconds: int(env, 'SESSION_TTL_SECONDS', 7 * 86400, 1, 365 * 86400),
    nonceTtlSeconds: int(env, 'NONCE_TTL_SECONDS', 600, 1, 86400),
    siweDomains,
    chainId,
    siweChainIds,
    chainRpcUrl,
    localChain,
    deployerPrivateKey: deployerPrivateKey as `0x${string}` | null,
    confirmations: int(env, 'TX_BLOCK_CONFIRMATIONS_REQUIRED', 1, 1, 1000),
    jobRetryLimit: int(env, 'JOB_RETRY_LIMIT', 3, 0, 100),
    jobTimeoutSeconds: int(env, 'JOB_TIMEOUT_SECONDS', 300, 1, 86400),
    jobConcurrency: int(env, 'JOB_CONCURRENCY', 4, 1, 100),
    chainRpcTimeoutSeconds: int(env, 'CHAIN_RPC_TIMEOUT_SECONDS', 15, 1, 600),
    shutdownTimeoutSeconds: int(env, 'SHUTDOWN_TIMEOUT_SECONDS', 15, 0, 3600),
    watcherIntervalMs: int(env, 'WATCHER_INTERVAL_MS', 1000, 50, 3_600_000),
    watcherMaxBlockRange: int(env, 'WATCHER_MAX_BLOCK_RANGE', 500, 1, 100_000),
    maxConnections,
    maxConnectionsPerUser: int(env, 'MAX_CONNECTIONS_PER_USER', 10, 1, maxConnections),
    maxFrameBytes: int(env, 'MAX_FRAME_BYTES', 64 * 1024, 128, 16 * 1024 * 1024),
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', 256 * 1024, 1024, 64 * 1024 * 1024),
    idleTimeoutSeconds: int(env, 'IDLE_TIMEOUT_SECONDS', 60, 5, 960),
    tokenExpiryGraceSeconds: int(env, 'TOKEN_EXPIRY_GRACE_SECONDS', 30, 0, 3600),
    replayCap: int(env, 'REPLAY_CAP', 1000, 1, 100_000),
    wsMessagesPerSecond: int(env, 'WS_MESSAGES_PER_SECOND', 50, 1, 100_000),
    sendBufferLimitBytes: int(env, 'SEND_BUFFER_LIMIT_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    authTimeoutSeconds: int(env, 'AUTH_TIMEOUT_SECONDS', 0, 0, 3600),
    maxAnonymousConnectionsPerIp: int(env, 'MAX_ANONYMOUS_CONNECTIONS_PER_IP', 20, 1, maxConnections),
    wsConnectionsPerSecondPerIp: int(env, 'WS_CONNECTIONS_PER_SECOND_PER_IP', 20, 1, 100_000),
    wsUserMessagesPerSecond: int(env, 'WS_USER_MESSAGES_PER_SECOND', 100, 1, 1_000_000),
    authRatePerMinute: int(env, 'AUTH_RATE_PER_MINUTE', 60, 1, 1_000_000),
    adminRatePerSecond: int(env, 'ADMIN_RATE_PER_SECOND', 1000, 1, 1_000_000),
    adminBatchMax: int(env, 'ADMIN_BATCH_MAX', 1000, 1, 100_000),
    allowedOrigins: origins(env, 'ALLOWED_ORIGINS'),
    trustProxy: oneOf(env, 'TRUST_PROXY', ['true', 'false'] as const, 'false') === 'true',
    adminKey,
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    bus,
    redisUrl,
    redisChannel: env.REDIS_CHANNEL?.trim() || 'herald:bus',
  }
}
