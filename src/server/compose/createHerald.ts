import { mkdirSync } from 'node:fs'
import type { Server } from 'bun'
import { type AnyElysia, Elysia } from 'elysia'
import { type Config, type ConfigEnv, loadConfig } from '../config/loadConfig'
import { ConfigError, HeraldError } from '../errors'
import type { AnyJobDefinition } from '../jobs/defineJob'
import { heraldApi } from './heraldApi'
import { type HeraldCore, openHerald, type StartOptions } from './openHerald'
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
  const herald = heraldLifecycle(config, { ...internal, jobs: options.jobs ?? internal.jobs })

  const forward = ({ request, server }: { request: Request; server: Server<unknown> | null }) => {
    const core = herald.core()
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

  return { plugin, ...herald.surface }
}

export type Herald = ReturnType<typeof createHerald>

/** Herald serving itself (`serveHerald`): the server API, and the address it listens on. */
export type ServedHerald = Omit<Herald, 'plugin'> & {
  /** `http://HOST:PORT`, the port as bound (PORT=0 picks a free one). */
  url: string
  port: number
}

/**
 * Herald on its own, as `npm start` runs it: the composition root's HTTP app listens on HOST:PORT itself (no
 * host app, no forwarding), with the standalone defaults: the web app on (`SERVE_WEB_APP`), `SIWE_DOMAINS`
 * defaulting to `HOST:PORT` and `localhost:PORT`. Resolves once it listens; a bad setting rejects with a
 * `ConfigError` naming the variable.
 */
export async function serveHerald(
  options: CreateHeraldOptions = {},
  internal: StartOptions = {},
): Promise<ServedHerald> {
  const config = loadConfig({ ...process.env, ...options.config })
  return (await listenHerald(config, { ...internal, jobs: options.jobs ?? internal.jobs })).herald
}

/**
 * `serveHerald` on settings already validated, with the composition root it runs beside it: `startHerald`
 * (../app.ts) keeps it for the tests' hooks.
 */
export async function listenHerald(config: Config, internal: StartOptions) {
  // Set by the listen inside start() (a closure: `as` keeps the type from narrowing to null here).
  let address = null as { url: string; port: number } | null
  const herald = heraldLifecycle(config, internal, (core) => {
    address = listen(core)
  })
  await herald.surface.start()
  return { herald: { ...herald.surface, ...address! } satisfies ServedHerald, core: herald.core()! }
}

/** Listens on HOST:PORT with the composition root's own HTTP app: a socket upgrade goes through no other app. */
function listen(core: HeraldCore): { url: string; port: number } {
  const { app, config, log } = core
  app.listen({ hostname: config.host, port: config.port })
  // The port closes before the parts behind it stop, so nothing new arrives meanwhile.
  core.onStop('HTTP server', () => app.stop(true))
  const server = app.server!
  core.attach(server)
  const url = `http://${config.host}:${server.port}`
  log.info('herald listening', { url, database: core.database.kind, bus: core.bus.kind })
  return { url, port: server.port! }
}

/**
 * One composition root's life (start once, stop once, the server API in between), whichever way it is served;
 * `opened` serves it (listens) before `start()` resolves, and a failure there stops what was opened.
 */
function heraldLifecycle(config: Config, internal: StartOptions, opened?: (core: HeraldCore) => void) {
  let core: HeraldCore | null = null
  let starting: Promise<void> | null = null
  let stopping: Promise<void> | null = null
  const running = () => {
    if (!core) throw new HeraldError('SERVICE_UNAVAILABLE', 'Herald is not started (see start()).')
    return core
  }
  return {
    /** The running composition root, null before `start()` resolves and after `stop()`. */
    core: () => core,
    surface: {
      /** The settings as validated (the environment merged under `config`). */
      config,
      /** Opens the database (running migrations), the bus, the chain and the jobs; idempotent. */
      start(): Promise<void> {
        if (stopping) return Promise.reject(new Error('Herald was stopped; create another.'))
        starting ??= (async () => {
          mkdirSync(config.dataDir, { recursive: true })
          const next = await openHerald(config, internal)
          try {
            opened?.(next)
          } catch (error) {
            await next.stop()
            throw error
          }
          core = next
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
          stopped?.log.info('herald stopped')
        })()
        return stopping
      },
      ...heraldApi(running),
    },
  }
}
