import { mkdirSync } from 'node:fs'
import type { Server } from 'bun'
import { type AnyElysia, Elysia } from 'elysia'
import { isAddress } from 'viem'
import type { BroadcastMessage } from '../../shared/protocol'
import {
  broadcast,
  type PublishBatchBody,
  type PublishBody,
  publishNotification,
  publishNotificationBatch,
  publishOnChannel,
} from '../api/adminPublishing'
import { type ConfigEnv, loadConfig } from '../config/loadConfig'
import { ConfigError, HeraldError } from '../errors'
import type { AnyJobDefinition } from '../jobs/defineJob'
import { upsertUserByAddress } from '../users/upsertUserByAddress'
import { type HeraldCore, openHerald, type StartOptions } from './openHerald'
import { validated } from './validated'
import { websocketOptions } from './websocketOptions'

export interface CreateHeraldOptions {
  /**
   * Settings keyed by the environment variables' own names (`{ DATA_DIR: './data', SIWE_DOMAINS: 'app.example' }`),
   * strings as in the environment, validated the same way; they take precedence over `process.env`.
   */
  config?: ConfigEnv
  /** The app's job types (`defineJob`), run beside Herald's own; started with `jobs.start` or `POST /api/jobs`. */
  jobs?: AnyJobDefinition[]
}

/** The paths Herald answers in the host app (sections 1–8); the web app's `/*` only with SERVE_WEB_APP. */
const PATHS = ['/api', '/api/*', '/ws', '/health', '/metrics', '/openapi', '/openapi/*'] as const

const unavailable = () =>
  Response.json(new HeraldError('SERVICE_UNAVAILABLE', 'Herald is not started (see start()).').toBody(), {
    status: 503,
  })

/**
 * Herald inside an existing Elysia app: `app.use(herald.plugin)` serves `/ws`, `/api/*`, `/health` beside the
 * host's own routes, on the host's port. The plugin forwards those paths, untouched (`parse: 'none'`), to
 * the HTTP app of the composition root, so its hooks (body limit, errors, headers) stay on Herald's routes and
 * never touch the host's. `start()` opens the parts; until it resolves, Herald's paths answer 503.
 *
 * `internal` is for `startHerald`-style callers in this repository (tests' clocks, a shared database).
 */
export function createHerald(options: CreateHeraldOptions = {}, internal: StartOptions = {}) {
  const env: Record<string, string | undefined> = { ...process.env, ...options.config }
  // The host app decides what it serves at /: Herald's own web app only when asked for.
  if (!env.SERVE_WEB_APP?.trim()) env.SERVE_WEB_APP = 'false'
  const config = loadConfig(env)
  if (!config.siweDomains)
    throw new ConfigError(
      'SIWE_DOMAINS must be set when Herald is mounted in your app (PORT and HOST are the host app’s): the host:port values your users sign in on, comma-separated.',
    )

  let core: HeraldCore | null = null
  let starting: Promise<void> | null = null
  let stopping: Promise<void> | null = null
  const running = () => {
    if (!core) throw new HeraldError('SERVICE_UNAVAILABLE', 'Herald is not started (see start()).')
    return core
  }

  const forward = ({ request, server }: { request: Request; server: Server<unknown> | null }) => {
    if (!core) return unavailable()
    // The host's server: /ws upgrades on it, and the hub publishes to its topics.
    if (server) core.attach(server)
    return core.app.handle(request)
  }
  const routes = new Elysia({ name: 'herald' })
  for (const path of config.serveWebApp ? [...PATHS, '/', '/*'] : PATHS)
    routes.all(path, forward, { parse: 'none', detail: { hide: true } })

  /**
   * An Elysia plugin (a function, so it can set the host's server-wide WebSocket options: Bun reads them once,
   * from the app that listens; the host's own settings win).
   */
  const plugin = <App extends AnyElysia>(app: App): App => {
    app.config.websocket = { ...websocketOptions(config), ...app.config.websocket }
    return app.use(routes) as App
  }

  return {
    plugin,
    /** The settings as validated (the environment merged under `config`). */
    config,
    /** Opens the database (running migrations), the bus, the chain and the jobs; idempotent. */
    start(): Promise<void> {
      if (stopping) return Promise.reject(new Error('Herald was stopped; create another.'))
      starting ??= (async () => {
        mkdirSync(config.dataDir, { recursive: true })
        core = await openHerald(config, { ...internal, jobs: options.jobs ?? internal.jobs })
      })()
      return starting
    },
    /** Closes everything `start()` opened (sockets with 1001 first); idempotent, and waits for a start under way. */
    stop(): Promise<void> {
      stopping ??= (async () => {
        await starting?.catch(() => {})
        const stopped = core
        core = null
        await stopped?.stop()
      })()
      return stopping
    },
    /** Stores the notification, then pushes it, exactly like `POST /api/admin/notifications`. */
    async notify(params: PublishBody) {
      const ctx = running().ctx
      return publishNotification(ctx, validated('notify', 'AdminPublishBody', params))
    },
    /** Like `POST /api/admin/notifications/batch`: all or nothing. */
    async notifyMany(list: PublishBatchBody | PublishBody[]) {
      const { ctx } = running()
      const body = Array.isArray(list) ? { notifications: list } : list
      const { results } = await publishNotificationBatch(
        ctx,
        validated('notifyMany', 'AdminPublishBatchBody', body),
        ctx.config.adminBatchMax,
      )
      return { results }
    },
    /** An unstored message (a JSON object with a string `type`) to every connection of the user, on every instance. */
    async sendToUser(userId: string, message: { type: string; [key: string]: unknown }) {
      const { hub } = running()
      validated('sendToUser', 'BroadcastMessage', message)
      await hub.sendToUser(String(userId), message as never)
      return hub.getUserConnectionCount(String(userId))
    },
    /** An unstored message to every open connection on every instance, like `POST /api/admin/broadcast`. */
    async sendToAll(message: { type: string; [key: string]: unknown }) {
      const { ctx } = running()
      const { delivered } = await broadcast(
        ctx,
        validated('sendToAll', 'BroadcastMessage', message) as BroadcastMessage,
      )
      return delivered
    },
    /** The user's authenticated connections, on every instance. */
    async getUserConnectionCount(userId: string): Promise<number> {
      return running().userConnections.count(String(userId))
    },
    /** Stores a publication on a channel and pushes it to its subscribers, like the admin channel route. */
    async publish(channel: string, data: unknown) {
      return publishOnChannel(running().ctx, channel, data)
    },
    jobs: {
      /**
       * Starts a job of any registered type (user-startable or not) for `owner` (a user id, or an address whose
       * user is created on first sight), like `POST /api/jobs`: bad input is INVALID_INPUT naming the field.
       */
      async start(type: string, input: unknown, { owner }: { owner: string }) {
        const { ctx } = running()
        return ctx.jobs.start({ type, input, userId: await ownerId(ctx, owner), byUser: false })
      },
      /** The job as `GET /api/jobs/:id` shows it to its owner. */
      async get(id: string, { owner }: { owner: string }) {
        const { ctx } = running()
        return ctx.jobs.get({ id, userId: await ownerId(ctx, owner) })
      },
      /** Cancels the job like `POST /api/jobs/:id/cancel` by its owner. */
      async cancel(id: string, { owner }: { owner: string }) {
        const { ctx } = running()
        return ctx.jobs.cancel({ id, userId: await ownerId(ctx, owner) })
      },
    },
  }
}

export type Herald = ReturnType<typeof createHerald>

/** A user id as it is, or the user of an address (created on first sight, as notify does). */
async function ownerId(ctx: HeraldCore['ctx'], owner: string): Promise<string> {
  if (typeof owner !== 'string' || owner === '')
    throw new HeraldError('INVALID_INPUT', 'owner: give a user id or an address.')
  if (!owner.startsWith('0x')) return owner
  if (!isAddress(owner, { strict: false }))
    throw new HeraldError('INVALID_INPUT', `owner: "${owner}" is not an address.`)
  return String((await upsertUserByAddress(ctx.db, owner)).id)
}
