import { type Declaration, variable } from '../declaration'
import { boolean, directory, domains, integer, oneOf, secret, text, url } from '../kinds'

const DAY = 86_400

/** The variables of the process, its database and its sessions (README order; see ../variables.ts for how to add one). */
export const processVariables = [
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
] satisfies readonly Declaration[]
