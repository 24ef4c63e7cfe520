import { type Declaration, variable } from '../declaration'
import { boolean, oneOf, origins, secret, text, url } from '../kinds'

/** The variables of origins, the admin key, logs and the bus (README order; see ../variables.ts for how to add one). */
export const edgeVariables = [
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
  variable({
    name: 'REDIS_SHARDED_PUBSUB',
    field: 'redisShardedPubsub',
    kind: boolean,
    default: false,
    doc: "BUS=redis: channel and user events by SPUBLISH, each instance receiving only its channels' and users' shards (Redis 7)",
  }),
] satisfies readonly Declaration[]
