import { join } from 'node:path'
import { openapi } from '@elysiajs/openapi'
import { count } from 'drizzle-orm'
import { Elysia } from 'elysia'
import type { PgBoss } from 'pg-boss'
import packageJson from '../../package.json'
import { adminRoutes } from './api/adminRoutes'
import { authRoutes } from './api/authRoutes'
import type { ApiContext } from './api/context'
import { notificationRoutes } from './api/notificationRoutes'
import { systemRoutes } from './api/systemRoutes'
import { tokenRoutes } from './api/tokenRoutes'
import { webRoutes } from './api/webRoutes'
import { authenticateToken } from './auth/authenticateToken'
import { createTokenService } from './auth/createTokenService'
import type { SignInPolicy } from './auth/verifySignIn'
import { createInProcessBus } from './bus/createInProcessBus'
import { createPostgresBus } from './bus/createPostgresBus'
import { createRedisBus } from './bus/createRedisBus'
import type { Bus } from './bus/types'
import { type ChainContext, connectChain } from './chain/connectChain'
import { startTransferWatcher, type TransferWatcher } from './chain/startTransferWatcher'
import { ensureAdminKey } from './config/ensureAdminKey'
import { ensureJwtSecret } from './config/ensureJwtSecret'
import type { Config } from './config/loadConfig'
import { type DatabaseHandle, openDatabase } from './db/openDatabase'
import { jobs } from './db/schema'
import { ConfigError, describeError, HeraldError } from './errors'
import { errorHandler } from './http/errorHandler'
import { bodyTooLarge, limitBody } from './http/limitBody'
import { apiOrigins, createOriginCheck } from './http/origins'
import { securityHeaders, webAppPolicy } from './http/securityHeaders'
import { startJobBoss } from './jobs/startJobBoss'
import { startJobWorkers } from './jobs/startJobWorkers'
import { createLogger, type Logger } from './log/createLogger'
import { createMetrics } from './metrics/createMetrics'
import { getUnreadState } from './notifications/getUnreadState'
import { loadNotificationsSince } from './notifications/loadNotificationsSince'
import { SocketManager } from './ws/SocketManager'
import { wsRoute } from './ws/wsRoute'

export interface HeraldServer {
  url: string
  port: number
  hub: SocketManager
  database: DatabaseHandle
  bus: Bus
  config: Config
  chain: ChainContext | null
  boss: PgBoss | null
  watcher: TransferWatcher | null
  stop(): Promise<void>
}

export interface StartOptions {
  /** A database opened by the caller (tests share one per file); otherwise opened from the config. */
  database?: DatabaseHandle
  logger?: Logger
  /** The built web app (default: web/dist). */
  webDir?: string
  /**
   * Test hook: the clock, in milliseconds, of every HTTP rate limiter (sign-in, admin publishing, WebSocket
   * upgrades), so a test advances it instead of waiting for a bucket to refill. Default performance.now.
   */
  clock?: () => number
}

/** The composition root: the only place that wires modules together. */
export async function startHerald(loaded: Config, options: StartOptions = {}): Promise<HeraldServer> {
  const config: Config = { ...loaded, adminKey: ensureAdminKey(loaded) }
  const log = options.logger ?? createLogger(config.logLevel)
  const onError = (error: unknown, context: string) => log.error(context, { error: describeError(error) })
  if (!options.database && !config.databaseUrl && config.role !== 'all')
    throw new ConfigError(
      `ROLE=${config.role} needs DATABASE_URL: the embedded database serves one process, so it runs as ROLE=all.`,
    )
  const jwtSecret = ensureJwtSecret(config)
  const database =
    options.database ??
    (await openDatabase(
      config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir },
    ))
  const ownsDatabase = !options.database
  const db = database.db
  const metrics = createMetrics()
  // One process: the in-process bus. On PostgreSQL, LISTEN/NOTIFY by default, so servers and workers in
  // other processes reach each other's connections; Redis when NOTIFY throughput is the limit.
  const busKind = config.bus === 'auto' ? (database.kind === 'postgres' ? 'postgres' : 'memory') : config.bus
  if (busKind === 'postgres' && database.kind !== 'postgres')
    throw new ConfigError(
      'BUS=postgres needs DATABASE_URL (the embedded database has no LISTEN/NOTIFY across processes).',
    )
  const bus =
    busKind === 'postgres'
      ? createPostgresBus({ url: database.url!, db, onError })
      : busKind === 'redis'
        ? createRedisBus({ url: config.redisUrl!, channel: config.redisChannel, onError })
        : createInProcessBus(onError)
  const tokens = createTokenService(jwtSecret)
  const authenticate = (token: string) => authenticateToken(db, tokens, token)
  await bus.start()
  const chain = await connectChain(config, onError)
  const chainId = chain?.chainId ?? config.chainId ?? 31337
  const runsWorkers = config.role !== 'server'
  const runsApi = config.role !== 'worker'
  const boss = chain ? await startJobBoss(database, config, onError) : null
  const workers =
    chain && boss && runsWorkers
      ? await startJobWorkers({
          db,
          bus,
          boss,
          chain,
          concurrency: config.jobConcurrency,
          timeoutSeconds: config.jobTimeoutSeconds,
          onError,
        })
      : null
  const watcher =
    chain && runsWorkers
      ? startTransferWatcher({
          db,
          bus,
          chain,
          intervalMs: config.watcherIntervalMs,
          maxBlockRange: config.watcherMaxBlockRange,
          onError,
        })
      : null
  metrics.countJobs = async () =>
    (await db.select({ state: jobs.status, n: count() }).from(jobs).groupBy(jobs.status)).map((row) => row)

  const hub = new SocketManager({
    bus,
    authenticate,
    loadSince: (userId, since, limit) => loadNotificationsSince(db, { userId, since, limit }),
    latestSeq: async (userId) => (await getUnreadState(db, userId)).seq,
    metrics,
    onError,
    options: {
      maxConnections: config.maxConnections,
      maxConnectionsPerUser: config.maxConnectionsPerUser,
      tokenExpiryGraceSeconds: config.tokenExpiryGraceSeconds,
      replayCap: config.replayCap,
      wsMessagesPerSecond: config.wsMessagesPerSecond,
      sendBufferLimitBytes: config.sendBufferLimitBytes,
      authTimeoutSeconds: config.authTimeoutSeconds,
      maxAnonymousConnectionsPerIp: config.maxAnonymousConnectionsPerIp,
      wsUserMessagesPerSecond: config.wsUserMessagesPerSecond,
    },
  })
  const checkOrigin = createOriginCheck(config.allowedOrigins, config.trustProxy)
  const clock = options.clock ?? (() => performance.now())

  let policy: SignInPolicy | null = null
  const ctx: ApiContext = {
    config,
    db,
    database,
    bus,
    hub,
    tokens,
    metrics,
    log,
    version: packageJson.version,
    clock,
    authenticate,
    signInPolicy: () => {
      if (!policy) throw new HeraldError('SERVICE_UNAVAILABLE', 'The server is still starting.')
      return policy
    },
    async health() {
      const dbState = await Promise.race([
        database.ping().then(
          () => 'ok' as const,
          () => 'unavailable' as const,
        ),
        Bun.sleep(2000).then(() => 'unavailable' as const),
      ])
      const chainState = chain
        ? await Promise.race([
            chain.publicClient.getBlockNumber().then(
              () => 'ok' as const,
              () => 'unavailable' as const,
            ),
            Bun.sleep(2000).then(() => 'unavailable' as const),
          ])
        : ('unavailable' as const)
      return { db: dbState, chain: chainState }
    },
    chain: () => ({ chainId, rpcUrl: chain?.rpcUrl ?? null }),
    jobs: () => boss,
  }

  const app = new Elysia({
    // Bun answers bodies over its own limit with a bare 413 (not the contract's body), so its limit is only a
    // backstop far above ours; the request hook below and limitBody answer first.
    serve: { maxRequestBodySize: 1024 ** 3 },
    // WebSocket options only take effect server-wide, here.
    websocket: {
      idleTimeout: config.idleTimeoutSeconds,
      maxPayloadLength: config.maxFrameBytes,
      backpressureLimit: config.sendBufferLimitBytes * 2,
      closeOnBackpressureLimit: false,
      perMessageDeflate: false,
      sendPings: true,
    },
  })
    .use(errorHandler(log))
    .use(securityHeaders())
    .onRequest((context) => {
      const declared = context.request.headers.get('content-length')
      if (declared !== null) {
        if (Number(declared) > config.maxBodyBytes) throw bodyTooLarge(config.maxBodyBytes)
      } else if (context.request.body) {
        // A streamed (chunked) body declares no length: it is cut off while it is read.
        context.request = limitBody(context.request, config.maxBodyBytes)
      }
    })
    .use(apiOrigins(checkOrigin))
    .use(systemRoutes(ctx, { withConfig: runsApi }))
  // A worker serves only /health and /metrics; the API, its description and the web app live on servers.
  if (runsApi) {
    app
      .use(
        openapi({
          path: '/openapi',
          documentation: {
            info: { title: 'Herald', version: packageJson.version, description: 'See docs/protocol.md' },
            components: {
              securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
            },
          },
        }),
      )
      .use(authRoutes(ctx))
      .use(notificationRoutes(ctx))
      .use(tokenRoutes(ctx))
      .use(adminRoutes(ctx, { maxBatch: config.adminBatchMax }))
      .use(
        wsRoute(hub, authenticate, {
          connectionsPerSecondPerIp: config.wsConnectionsPerSecondPerIp,
          trustProxy: config.trustProxy,
          checkOrigin,
          onRateLimited: () => metrics.rateLimited.inc({ limit: 'ws_upgrade' }),
          now: clock,
        }),
      )
      .use(
        webRoutes(
          options.webDir ?? join(import.meta.dir, '../../web/dist'),
          webAppPolicy(chain?.rpcUrl ?? null),
        ),
      )
  }

  app.listen({ hostname: config.host, port: config.port })
  const server = app.server!
  const port = server.port!
  policy = {
    domains: config.siweDomains ?? [`${config.host}:${port}`, `localhost:${port}`],
    chainIds: config.siweChainIds ?? [chainId],
    sessionTtlSeconds: config.sessionTtlSeconds,
    tokenTtlSeconds: config.tokenTtlSeconds,
    publicClient: chain?.publicClient ?? null,
  }
  hub.start(server as never)
  watcher?.start()
  log.info('herald listening', {
    url: `http://${config.host}:${port}`,
    database: database.kind,
    bus: bus.kind,
  })

  let stopping: Promise<void> | null = null
  return {
    url: `http://${config.host}:${port}`,
    port,
    hub,
    database,
    bus,
    config,
    chain,
    boss,
    watcher,
    stop() {
      // Sockets close with 1001 first so clients resume elsewhere, and the port closes so nothing new
      // arrives. Running jobs get SHUTDOWN_TIMEOUT_SECONDS to finish; pg-boss then fails what still runs,
      // which hands it back for a retry by another worker, before the database goes away. Each step runs
      // even when an earlier one failed: a half-stopped process must still release the database.
      stopping ??= (async () => {
        const step = async (what: string, run: () => Promise<unknown> | unknown) => {
          try {
            await run()
          } catch (error) {
            onError(error, `stopping: ${what}`)
          }
        }
        await step('sockets', () => hub.stop())
        await step('HTTP server', () => app.stop(true))
        await step('transfer watcher', () => watcher?.stop())
        await step('job workers', () => workers?.stop())
        await step('pg-boss', () =>
          boss?.stop({ graceful: true, timeout: Math.max(1000, config.shutdownTimeoutSeconds * 1000) }),
        )
        await step('bus', () => bus.stop())
        await step('chain', () => chain?.stop())
        if (ownsDatabase) await step('database', () => database.close())
        log.info('herald stopped')
      })()
      return stopping
    },
  }
}
