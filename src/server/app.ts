import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import { createPublicClient, http, type PublicClient } from 'viem'
import packageJson from '../../package.json'
import { adminRoutes } from './api/adminRoutes'
import { authRoutes } from './api/authRoutes'
import type { ApiContext } from './api/context'
import { errorHandler, type Logger } from './api/errorHandler'
import { notificationRoutes } from './api/notificationRoutes'
import { systemRoutes } from './api/systemRoutes'
import { authenticateToken } from './auth/authenticateToken'
import { createTokenService } from './auth/createTokenService'
import type { SignInPolicy } from './auth/verifySignIn'
import { createInProcessBus } from './bus/createInProcessBus'
import type { Bus } from './bus/types'
import { ensureAdminKey } from './config/ensureAdminKey'
import { ensureJwtSecret } from './config/ensureJwtSecret'
import type { Config } from './config/loadConfig'
import { type DatabaseHandle, openDatabase } from './db/openDatabase'
import { describeError, HeraldError } from './errors'
import { createLogger } from './log/createLogger'
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
  stop(): Promise<void>
}

export interface StartOptions {
  /** A database opened by the caller (tests share one per file); otherwise opened from the config. */
  database?: DatabaseHandle
  logger?: Logger
}

/** The composition root: the only place that wires modules together. */
export async function startHerald(loaded: Config, options: StartOptions = {}): Promise<HeraldServer> {
  const config: Config = { ...loaded, adminKey: ensureAdminKey(loaded) }
  const log = options.logger ?? createLogger(config.logLevel)
  const onError = (error: unknown, context: string) => log.error(context, { error: describeError(error) })
  const jwtSecret = ensureJwtSecret(config)
  const database =
    options.database ??
    (await openDatabase(
      config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir },
    ))
  const ownsDatabase = !options.database
  const db = database.db
  const metrics = createMetrics()
  const bus = createInProcessBus(onError)
  const tokens = createTokenService(jwtSecret)
  const authenticate = (token: string) => authenticateToken(db, tokens, token)
  const publicClient: PublicClient | null = config.chainRpcUrl
    ? (createPublicClient({ transport: http(config.chainRpcUrl, { timeout: 10_000 }) }) as PublicClient)
    : null

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
    },
  })

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
      return { db: dbState, chain: 'unavailable' as const }
    },
    chain: () => ({ chainId: config.chainId, rpcUrl: config.chainRpcUrl }),
  }

  const app = new Elysia({
    serve: { maxRequestBodySize: config.maxBodyBytes },
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
    .onRequest(({ request }) => {
      const length = Number(request.headers.get('content-length') ?? 0)
      if (length > config.maxBodyBytes)
        throw new HeraldError(
          'PAYLOAD_TOO_LARGE',
          `The request body is larger than ${config.maxBodyBytes} bytes.`,
        )
    })
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
    .use(systemRoutes(ctx))
    .use(authRoutes(ctx))
    .use(notificationRoutes(ctx))
    .use(adminRoutes(ctx))
    .use(wsRoute(hub, authenticate))

  app.listen({ hostname: config.host, port: config.port })
  const server = app.server!
  const port = server.port!
  policy = {
    domains: config.siweDomains ?? [`${config.host}:${port}`, `localhost:${port}`],
    chainIds: config.siweChainIds,
    sessionTtlSeconds: config.sessionTtlSeconds,
    tokenTtlSeconds: config.tokenTtlSeconds,
    publicClient,
  }
  await bus.start()
  hub.start(server as never)
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
    stop() {
      stopping ??= (async () => {
        hub.stop()
        await app.stop(true)
        await bus.stop()
        if (ownsDatabase) await database.close()
      })()
      return stopping
    },
  }
}
