import type { Server } from 'bun'
import { count } from 'drizzle-orm'
import packageJson from '../../../package.json'
import type { ApiContext } from '../api/context'
import { authenticateToken, checkSession } from '../auth/authenticateToken'
import { createTokenService } from '../auth/createTokenService'
import { createSessionCache } from '../auth/sessionCache'
import type { SignInPolicy } from '../auth/verifySignIn'
import { connectChain } from '../chain/connectChain'
import { startTransferWatcher } from '../chain/startTransferWatcher'
import { createChannelRetention } from '../channels/channelRetention'
import { createChannelRights } from '../channels/channelRights'
import { createChannelTokenService } from '../channels/channelTokens'
import { createChannelStore } from '../channels/createChannelStore'
import { createPresence } from '../channels/createPresence'
import { createHolderBalance } from '../channels/holderBalance'
import { createTokenFeed } from '../channels/tokenFeed'
import { ensureAdminKey } from '../config/ensureAdminKey'
import { ensureChannelTokenSecret } from '../config/ensureChannelTokenSecret'
import { ensureJwtSecret } from '../config/ensureJwtSecret'
import type { Config } from '../config/loadConfig'
import { type DatabaseHandle, openDatabase } from '../db/openDatabase'
import { jobs } from '../db/schema'
import { sqlRunner } from '../db/sqlRunner'
import { ConfigError, describeError, HeraldError } from '../errors'
import { createIdempotency } from '../http/idempotency'
import { airdropJob } from '../jobs/airdrop'
import { createJobService } from '../jobs/createJobService'
import type { AnyJobDefinition } from '../jobs/defineJob'
import { deployTokenJob } from '../jobs/deployToken'
import { createJobRegistry } from '../jobs/jobRegistry'
import { startJobBoss } from '../jobs/startJobBoss'
import { startJobWorkers } from '../jobs/startJobWorkers'
import { createLogger, type Logger } from '../log/createLogger'
import { createMetrics } from '../metrics/createMetrics'
import { createNotificationStore } from '../notifications/createNotificationStore'
import type { PushFetch } from '../push/sendPush'
import { ensureVapidKeys } from '../push/vapidKeys'
import { type Clock, systemClock } from '../time/clock'
import { settleWithin } from '../time/withTimeout'
import { createConnectionRegistry } from '../users/connectionRegistry'
import { createHub } from '../ws/createHub'
import { buildHttpApp } from './httpApp'
import { selectBus } from './selectBus'
import { createShutdownList } from './shutdownList'
import { startWebPush } from './webPush'

export interface StartOptions {
  /** A database opened by the caller (tests share one per file); otherwise opened from the config. */
  database?: DatabaseHandle
  logger?: Logger
  /** The built web app (default: web/dist). */
  webDir?: string
  /**
   * Test hook: the time every deadline and rate limit runs on (token expiry, authentication timeouts, the HTTP
   * and WebSocket rate limits), so a test advances it instead of waiting. Default: the system's.
   */
  clock?: Clock
  /**
   * Test hook: how Web Push requests are made (default: the global fetch). A test's push service on
   * 127.0.0.1 has a certificate of its own, which this fetch trusts.
   */
  pushFetch?: PushFetch
  /**
   * The app's own job types (`defineJob`), run beside Herald's (`deploy_token`, `airdrop`); a name Herald uses
   * already is refused.
   */
  jobs?: AnyJobDefinition[]
}

/**
 * The composition root: the only place that wires the parts together. It reads as the parts in the order
 * they start (database, bus, stores, chain, jobs, hub, HTTP), each registered with the shutdown list, which
 * stops them in reverse. It does not listen: the HTTP app it returns is served either by itself
 * (`serveHerald`: `npm start`, and `startHerald` for the tests) or behind the host app's plugin (`createHerald`).
 */
export async function openHerald(loaded: Config, options: StartOptions = {}) {
  const config: Config = { ...loaded, adminKey: ensureAdminKey(loaded) }
  const log = options.logger ?? createLogger(config.logLevel)
  const clock = options.clock ?? systemClock
  const onError = (error: unknown, context: string) => log.error(context, { error: describeError(error) })
  if (!options.database && !config.databaseUrl && config.role !== 'all')
    throw new ConfigError(
      `ROLE=${config.role} needs DATABASE_URL: the embedded database serves one process, so it runs as ROLE=all.`,
    )
  const jwtSecret = ensureJwtSecret(config)
  const vapid = ensureVapidKeys(config)
  const channelTokenSecret = ensureChannelTokenSecret(config)
  const runsWorkers = config.role !== 'server'
  const runsApi = config.role !== 'worker'
  const shutdown = createShutdownList(onError)

  const database =
    options.database ??
    (await openDatabase(
      config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir },
    ))
  if (!options.database) shutdown.add('database', () => database.close())
  const { db } = database

  try {
    const metrics = createMetrics()
    metrics.countJobs = async () =>
      (await db.select({ state: jobs.status, n: count() }).from(jobs).groupBy(jobs.status)).map((row) => row)

    const bus = selectBus(config, database, onError, () => metrics.busMessagesReceived.inc())
    await bus.start()
    shutdown.add('bus', () => bus.stop())
    const notifications = createNotificationStore({ db, bus })
    const channelStore = createChannelStore({ db, bus })
    const tokenFeed = createTokenFeed(channelStore)
    const channelTokens = channelTokenSecret ? createChannelTokenService(channelTokenSecret) : null
    const idempotency = createIdempotency({ db, clock, onError })
    idempotency.start()
    shutdown.add('idempotency keys', () => idempotency.stop())
    const tokens = createTokenService(jwtSecret, clock.now)
    const authenticate = (token: string) => authenticateToken(db, tokens, token)

    const chain = await connectChain(config, onError)
    shutdown.add('chain', () => chain?.stop())
    if (chain && !chain.local && config.confirmations === 1)
      log.warn(
        'TX_BLOCK_CONFIRMATIONS_REQUIRED=1 on a real chain: a one-block reorganisation takes back a transfer already told (see docs/chain.md)',
      )
    const chainId = chain?.chainId ?? config.chainId ?? 31337
    const channelRights = createChannelRights({
      tokens: channelTokens,
      balanceOf: chain ? createHolderBalance(chain.publicClient) : null,
      now: clock.now,
      onError,
    })
    const channelRetention = createChannelRetention({
      runner: sqlRunner(db),
      clock,
      historyDays: config.channelHistoryDays,
      onError,
    })
    channelRetention.start()
    shutdown.add('channel retention', () => channelRetention.stop())

    // Herald's own jobs need a chain (they send transactions); the app's run with or without one. The queue
    // also carries Web Push (with VAPID keys).
    const appJobs = options.jobs ?? []
    const registry = createJobRegistry([
      deployTokenJob({
        db,
        notifications,
        chain,
        retries: config.jobRetryLimit,
        timeoutSeconds: config.jobTimeoutSeconds,
        onTokenCreated: (transaction, token) => tokenFeed.tokenChanged(transaction, token, 'created'),
      }),
      airdropJob({ db, chain, retries: config.jobRetryLimit, timeoutSeconds: config.jobTimeoutSeconds }),
      ...appJobs,
    ])
    const boss =
      chain || vapid || appJobs.length > 0 ? await startJobBoss(database, config, registry, onError) : null
    // Running jobs get SHUTDOWN_TIMEOUT_SECONDS to finish; pg-boss then fails what still runs, which hands it
    // back for a retry by another worker, before the database goes away.
    shutdown.add('pg-boss', () =>
      boss?.stop({ graceful: true, timeout: Math.max(1000, config.shutdownTimeoutSeconds * 1000) }),
    )
    const workers =
      boss && runsWorkers
        ? await startJobWorkers({
            db,
            bus,
            notifications,
            boss,
            chain,
            registry,
            concurrency: config.jobConcurrency,
            cancelPollMs: 500,
            onError,
          })
        : null
    const jobService = createJobService({ db, bus, registry, boss, hasChain: chain !== null })
    shutdown.add('job workers', () => workers?.stop())
    const watcher =
      chain && runsWorkers
        ? startTransferWatcher({
            db,
            bus,
            notifications,
            chain,
            intervalMs: config.watcherIntervalMs,
            maxBlockRange: config.watcherMaxBlockRange,
            reorgWindow: config.watcherReorgWindow,
            metrics,
            // Section 8: every change of a transfer is published on its token's channel, in the same transaction,
            // and the holders' rooms of that token check both parties' balances once it commits.
            onTransferChange: (transaction, transfer, action) =>
              tokenFeed.transferChanged(transaction, transfer, action),
            onError,
          })
        : null
    shutdown.add('transfer watcher', () => watcher?.stop())
    const pushWorkers = await startWebPush(
      { vapid, db, bus, boss, config, clock, metrics, fetch: options.pushFetch },
      { runsWorkers, shutdown, onError },
    )
    // Who is connected where (`user_connections`): Web Push workers tell away users by it, and the library's
    // getUserConnectionCount reads it. Instances that hold sockets write their rows; any instance can count.
    const connectionRegistry = createConnectionRegistry({
      runner: sqlRunner(db),
      clock,
      ttlSeconds: config.presenceTtlSeconds,
      onError,
    })
    if (runsApi) connectionRegistry.start()
    shutdown.add('connection rows', () => connectionRegistry.stop())

    const presence = createPresence({ bus, clock, ttlSeconds: config.presenceTtlSeconds, onError })
    // Socket sign-ins check sessions in memory (revocations follow the bus); HTTP keeps reading the database.
    const sessionCache = createSessionCache({
      runner: sqlRunner(db),
      bus,
      clock,
      fallback: (claims) => checkSession(db, claims),
      counted: (source) => metrics.countSessionCheck(source),
      onError,
    })
    if (runsApi) await sessionCache.start()
    shutdown.add('session cache', () => sessionCache.stop())
    const hub = createHub({
      bus,
      verify: (token) => tokens.verify(token),
      check: (claims) => sessionCache.check(claims),
      isRevoked: (sessionId) => sessionCache.isRevoked(sessionId),
      inbox: notifications.source,
      channels: { store: channelStore, rights: channelRights, presence },
      metrics,
      onError,
      clock,
      config,
      onUserConnections(userId, connections) {
        connectionRegistry.changed(userId, connections)
      },
    })

    metrics.countConnections = () => ({
      connections: hub.connectionCount,
      authenticatedUsers: hub.authenticatedUserCount,
    })

    // The default SIWE domains name the port, known once something listens (see `attach`).
    let port: number | null = null
    const policy = (): SignInPolicy => {
      const domains =
        config.siweDomains ?? (port === null ? null : [`${config.host}:${port}`, `localhost:${port}`])
      if (!domains) throw new HeraldError('SERVICE_UNAVAILABLE', 'The server is still starting.')
      return {
        domains,
        chainIds: config.siweChainIds ?? [chainId],
        sessionTtlSeconds: config.sessionTtlSeconds,
        tokenTtlSeconds: config.tokenTtlSeconds,
        publicClient: chain?.publicClient ?? null,
      }
    }
    const ctx: ApiContext = {
      config,
      db,
      database,
      bus,
      hub,
      notifications,
      channels: { store: channelStore, rights: channelRights, presence, tokens: channelTokens },
      idempotency,
      tokens,
      metrics,
      log,
      version: packageJson.version,
      clock: clock.now,
      authenticate,
      signInPolicy: policy,
      async health() {
        const [dbState, chainState] = await Promise.all([
          settleWithin(
            database.ping().then(() => 'ok' as const),
            2000,
            'unavailable' as const,
          ),
          chain
            ? settleWithin(
                chain.publicClient.getBlockNumber().then(() => 'ok' as const),
                2000,
                'unavailable' as const,
              )
            : ('unavailable' as const),
        ])
        return { db: dbState, chain: chainState }
      },
      chain: () => ({
        chainId,
        rpcUrl: chain?.rpcUrl ?? null,
        deployerAddress: chain?.deployer?.address ?? null,
      }),
      chainClient: chain?.publicClient ?? null,
      jobs: jobService,
      hasChain: chain !== null,
      vapidPublicKey: vapid?.publicKey ?? null,
    }
    const app = buildHttpApp({
      ctx,
      hub,
      authenticate,
      async authenticateSocket(token) {
        const claims = await tokens.verify(token)
        return claims ? sessionCache.check(claims) : null
      },
      withApi: runsApi,
      withWebApp: config.serveWebApp,
      webDir: options.webDir,
      rpcUrl: chain?.rpcUrl ?? null,
    })
    hub.start()
    // Sockets close with 1001 first so clients resume elsewhere.
    shutdown.add('sockets', () => hub.stop())
    // Only instances that hold sockets count presence; it stops first, telling the others its members left.
    if (runsApi) presence.start()
    shutdown.add('presence', () => presence.stop())
    watcher?.start()

    let attached: Server<unknown> | null = null
    return {
      config,
      log,
      ctx,
      /** The HTTP side (routes, /ws, hooks); served by `serveHerald` itself or behind `createHerald`'s plugin. */
      app,
      hub,
      database,
      bus,
      boss,
      watcher,
      chain,
      presence,
      channelRetention,
      channelStore,
      /** Web Push: the queue's workers (null when push is off or this instance runs none) and the connection rows. */
      push: { workers: pushWorkers, registry: connectionRegistry },
      notifications,
      /** Each user's authenticated connections over every instance (`count`), from the connection rows. */
      userConnections: connectionRegistry,
      /** Starts, lists and cancels jobs, as the routes of docs/protocol.md §5 do. */
      jobs: jobService,
      /**
       * The server that accepts the sockets (Herald's own, or the host app's): the hub publishes to its topics,
       * /ws upgrades on it, and its port completes the default SIWE domains.
       */
      attach(server: Server<unknown>) {
        if (attached === server) return
        attached = server
        app.server = server as never
        port ??= server.port ?? null
        hub.attach(server)
      },
      /** Registers something started outside (the listening port) to stop first. */
      onStop(name: string, stop: () => unknown) {
        shutdown.add(name, stop)
      },
      async stop() {
        await shutdown.stop()
      },
    }
  } catch (error) {
    // A part failed to start: what did start is stopped, so the process does not hold the database.
    await shutdown.stop()
    throw error
  }
}

export type HeraldCore = Awaited<ReturnType<typeof openHerald>>
