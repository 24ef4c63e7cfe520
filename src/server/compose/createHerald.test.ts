import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Elysia, t } from 'elysia'
import { createTestDatabase, createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { until } from '../../../test/helpers/until'
import { bearer, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated } from '../../../test/helpers/wsClient'
import { ConfigError, HeraldError } from '../errors'
import { defineJob } from '../jobs/defineJob'
import { createHerald, serveHerald } from './createHerald'

// Herald mounted in a host Elysia app through the library's plugin (docs/protocol.md §9): the host's routes
// beside /api and /ws on the host's port, the server API in the host's process, start/stop. Last, the same
// library serving itself on HOST:PORT (`serveHerald`, what `npm start` runs).

const root = mkdtempSync(join(tmpdir(), 'herald-library-'))
const dataDir = join(root, 'not-yet-created')
const ADMIN_KEY = 'library-admin-key-0123456789'
let dropDatabase: (() => Promise<void>) | null = null
let sharedDatabaseUrl: string | null = null
const baseConfig = (): Record<string, string> => ({
  NODE_ENV: 'test',
  DATA_DIR: dataDir,
  SIWE_DOMAINS: 'app.example',
  JWT_SECRET: 'library-secret-library-secret-0123456789',
  HERALD_ADMIN_KEY: ADMIN_KEY,
  LOCAL_CHAIN: 'false',
  LOG_LEVEL: process.env.HERALD_TEST_LOG_LEVEL ?? 'silent',
})

// The app's own job: a few steps, each reported, its result the sum.
const report = defineJob({
  name: 'test_report',
  input: t.Object({ parts: t.Integer({ minimum: 1, maximum: 10 }) }),
  userStartable: true,
  async run(input, ctx) {
    for (let done = 1; done <= input.parts; done++)
      await ctx.progress({ step: 'summing', done, total: input.parts })
    return { sum: input.parts * 10 }
  },
})

let herald: ReturnType<typeof createHerald>
let host: { stop(closeActiveConnections?: boolean): Promise<unknown> }
let url: string

beforeAll(async () => {
  const config = baseConfig()
  if (usingPostgres()) {
    const database = await createTestDatabaseUrl()
    config.DATABASE_URL = database.url
    sharedDatabaseUrl = database.url
    dropDatabase = database.drop
    herald = createHerald({ config, jobs: [report] })
  } else {
    // A migrated PGlite copy (fast); the library's own DATA_DIR path is the pack test's (herald.pack.long.test.ts).
    const database = await createTestDatabase()
    dropDatabase = () => database.close()
    herald = createHerald({ config, jobs: [report] }, { database })
  }
  // The plugin is mounted before start(): Herald's paths answer 503 until it resolves.
  const app = new Elysia()
    .get('/hello', () => ({ hello: 'from the host' }))
    .use(herald.plugin)
    .post('/orders', async ({ body }) => {
      const { userId } = body as { userId: string }
      const { notification } = await herald.notify({
        userId,
        type: 'order',
        title: 'Order placed',
        message: 'Thanks',
      })
      return { notificationId: notification?.id ?? null }
    })
    .listen({ hostname: '127.0.0.1', port: 0 })
  host = app
  url = `http://127.0.0.1:${app.server!.port}`
  const early = await fetch(`${url}/health`)
  expect(early.status).toBe(503)
  expect(((await early.json()) as { error: { code: string } }).error.code).toBe('SERVICE_UNAVAILABLE')
  expect((await fetch(`${url}/hello`)).status).toBe(200)
  await herald.start()
})

afterAll(async () => {
  await herald?.stop()
  await host?.stop(true)
  await dropDatabase?.()
  rmSync(root, { recursive: true, force: true })
})

describe('createHerald', () => {
  test('a bad value throws synchronously, naming the variable; SIWE_DOMAINS is required', () => {
    expect(() => createHerald({ config: { ...baseConfig(), MAX_FRAME_BYTES: 'many' } })).toThrow(
      /MAX_FRAME_BYTES/,
    )
    expect(() => createHerald({ config: { ...baseConfig(), SIWE_DOMAINS: '' } })).toThrow(ConfigError)
    expect(() => createHerald({ config: { ...baseConfig(), SIWE_DOMAINS: '' } })).toThrow(/SIWE_DOMAINS/)
  })

  test('with SERVE_WEB_APP the web app takes every path the host app leaves free', async () => {
    const withWebApp = createHerald({ config: { ...baseConfig(), SERVE_WEB_APP: 'true' } })
    const app = new Elysia()
      .get('/hello', () => 'host')
      .use(withWebApp.plugin)
      .listen({ hostname: '127.0.0.1', port: 0 })
    try {
      const base = `http://127.0.0.1:${app.server!.port}`
      expect(await (await fetch(`${base}/hello`)).text()).toBe('host')
      // Not started: Herald's, so 503 (without SERVE_WEB_APP the host's own 404, see below).
      for (const path of ['/', '/tokens/0xabc']) expect((await fetch(`${base}${path}`)).status).toBe(503)
    } finally {
      await withWebApp.stop()
      await app.stop(true)
    }
  })

  test('the host app keeps its routes; Herald serves /health, /api and no web app by default', async () => {
    expect(existsSync(dataDir)).toBe(true)
    expect(await (await fetch(`${url}/hello`)).json()).toEqual({ hello: 'from the host' })
    const health = await fetch(`${url}/health`)
    expect(health.status).toBe(200)
    expect(((await health.json()) as { db: string }).db).toBe('ok')
    const config = (await (await fetch(`${url}/api/config`)).json()) as { siweDomain: string }
    expect(config.siweDomain).toBe('app.example')
    // Not Herald's: the host's own 404.
    expect((await fetch(`${url}/`)).status).toBe(404)
    const unknown = await fetch(`${url}/api/nothing-here`)
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
  })

  test('notify from the host route reaches the user socket; sendToUser and sendToAll count connections', async () => {
    const session = await signIn(url)
    const socket = await connectAuthenticated(`${url.replace('http', 'ws')}/ws`, session.token)
    try {
      expect(await herald.getUserConnectionCount(session.user.id)).toBe(1)
      const placed = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: session.user.id }),
      })
      const { notificationId } = (await placed.json()) as { notificationId: string }
      const pushed = await socket.next<{ type: 'notification'; notification: { id: string; title: string } }>(
        'notification',
      )
      expect(pushed.notification).toMatchObject({ id: notificationId, title: 'Order placed' })
      // Stored: the user's list has it.
      const list = (await (
        await fetch(`${url}/api/notifications`, { headers: bearer(session.token) })
      ).json()) as {
        notifications: { id: string }[]
      }
      expect(list.notifications.map((n) => n.id)).toContain(notificationId)

      expect(await herald.sendToUser(session.user.id, { type: 'cart', items: 2 })).toBe(1)
      expect(await socket.next('cart')).toEqual({ type: 'cart', items: 2 })
      expect(await herald.sendToAll({ type: 'maintenance', at: 'noon' })).toBe(1)
      expect(await socket.next('maintenance')).toEqual({ type: 'maintenance', at: 'noon' })
    } finally {
      socket.close()
    }
  })

  test('notify by address, notifyMany, publish; bad arguments are INVALID_INPUT', async () => {
    const address = '0x00000000000000000000000000000000000000aa'
    const { userId, notification } = await herald.notify({ address, type: 't', title: 'Hi', message: 'm' })
    expect(notification?.title).toBe('Hi')
    const many = await herald.notifyMany([
      { userId, type: 't', title: 'one', message: 'm' },
      { address, type: 't', title: 'two', message: 'm' },
    ])
    expect(many.results.map((r) => r.notification?.title)).toEqual(['one', 'two'])
    const { publication } = await herald.publish('public:prices', { eth: 3000 })
    expect(publication).toMatchObject({ channel: 'public:prices', data: { eth: 3000 } })

    const bad = await herald.notify({ userId, type: 't', title: 5 as never, message: 'm' }).catch((e) => e)
    expect(bad).toBeInstanceOf(HeraldError)
    expect(bad.code).toBe('INVALID_INPUT')
    expect(bad.message).toContain('title')
    expect(await herald.sendToAll({ kind: 'no type' } as never).catch((e) => e.code)).toBe('INVALID_INPUT')
    expect(await herald.publish('no-namespace', 1).catch((e) => e.code)).toBe('INVALID_CHANNEL')
  })

  test('jobs.start runs the app job; its progress reaches the owner in order, then its result', async () => {
    const session = await signIn(url)
    const socket = await connectAuthenticated(`${url.replace('http', 'ws')}/ws`, session.token)
    try {
      const { job } = await herald.jobs.start('test_report', { parts: 3 }, { owner: session.user.id })
      await socket.next(
        (m) => m.type === 'job_status' && (m as { status: string }).status === 'completed',
        20_000,
      )
      const statuses = socket.messages.filter((m) => m.type === 'job_status') as {
        jobId: string
        status: string
        progress?: { done: number }
      }[]
      expect(statuses.every((m) => m.jobId === job.id)).toBe(true)
      expect(statuses.filter((m) => m.progress).map((m) => m.progress!.done)).toEqual([1, 2, 3])
      expect(statuses.at(-1)!.status).toBe('completed')
      const finished = await herald.jobs.get(job.id, { owner: session.user.id })
      expect(finished).toMatchObject({ status: 'completed', result: { sum: 30 } })
      // Bad input is the route's 422, naming the field.
      const bad = await herald.jobs
        .start('test_report', { parts: 0 }, { owner: session.user.id })
        .catch((e) => e)
      expect(bad.code).toBe('INVALID_INPUT')
      expect(bad.message).toContain('parts')
    } finally {
      socket.close()
    }
  })

  test('the OpenAPI description, through the plugin, lists the job routes and the app job’s input', async () => {
    const doc = (await (await fetch(`${url}/openapi/json`)).json()) as {
      info: { description: string }
      paths: Record<string, Record<string, unknown>>
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> }
    }
    for (const path of ['/api/jobs', '/api/jobs/{id}', '/api/jobs/{id}/cancel'])
      expect(doc.paths).toHaveProperty([path])
    expect(doc.components.schemas['JobInput.test_report']?.properties).toHaveProperty('parts')
    expect(doc.components.schemas).toHaveProperty(['JobInput.deploy_token'])
    expect(doc.info.description).toContain('`test_report`')
  })

  test('the admin routes work through the plugin', async () => {
    const response = await fetch(`${url}/api/admin/notifications`, {
      method: 'POST',
      headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json', 'idempotency-key': 'k-1' },
      body: JSON.stringify({
        address: '0x00000000000000000000000000000000000000bb',
        type: 't',
        title: 'x',
        message: 'y',
      }),
    })
    expect(response.status).toBe(201)
  })

  // PostgreSQL only: two instances share the database and its bus, as two processes of one deployment do.
  test.skipIf(!usingPostgres())(
    'a second instance counts the user’s connections on the first, and its sendToUser reaches them',
    async () => {
      const other = createHerald({
        config: { ...baseConfig(), DATA_DIR: join(root, 'second'), DATABASE_URL: sharedDatabaseUrl! },
      })
      const app = new Elysia().use(other.plugin).listen({ hostname: '127.0.0.1', port: 0 })
      const session = await signIn(url)
      const socket = await connectAuthenticated(`${url.replace('http', 'ws')}/ws`, session.token)
      try {
        await other.start()
        await until('the second instance to count the connection on the first', async () =>
          (await other.getUserConnectionCount(session.user.id)) === 1 ? true : undefined,
        )
        // Sent from the instance without the connection: it reached none of its own.
        expect(await other.sendToUser(session.user.id, { type: 'hello', from: 'second' })).toBe(0)
        expect(await socket.next('hello')).toEqual({ type: 'hello', from: 'second' })
        socket.close()
        await until('the count to drop to 0 on both', async () =>
          (await other.getUserConnectionCount(session.user.id)) === 0 &&
          (await herald.getUserConnectionCount(session.user.id)) === 0
            ? true
            : undefined,
        )
      } finally {
        socket.close()
        await other.stop()
        await app.stop(true)
      }
    },
  )

  // Last: it stops the Herald the other tests use.
  test('stop() is idempotent; afterwards Herald answers 503 and the host still serves', async () => {
    await Promise.all([herald.stop(), herald.stop()])
    await herald.stop()
    expect((await fetch(`${url}/health`)).status).toBe(503)
    expect(
      await herald.notify({ userId: '1', type: 't', title: 'x', message: 'y' }).catch((e) => e.code),
    ).toBe('SERVICE_UNAVAILABLE')
    expect((await fetch(`${url}/hello`)).status).toBe(200)
    await expect(herald.start()).rejects.toThrow(/stopped/)
  })
})

describe('serveHerald', () => {
  test('a bad value rejects with a ConfigError naming the variable', async () => {
    const failed = await serveHerald({ config: { ...baseConfig(), PORT: 'eighty' } }).catch((error) => error)
    expect(failed).toBeInstanceOf(ConfigError)
    expect(failed.message).toMatch(/PORT/)
  })

  test('on its own port: the web app at /, sign-in on the default domains without SIWE_DOMAINS, the server API', async () => {
    const database = await createTestDatabase()
    const { SIWE_DOMAINS: _, ...config } = baseConfig()
    const served = await serveHerald(
      { config: { ...config, HOST: '127.0.0.1', PORT: '0', DATA_DIR: join(root, 'served') }, jobs: [report] },
      { database },
    )
    try {
      expect(served.url).toBe(`http://127.0.0.1:${served.port}`)
      expect(served.config.serveWebApp).toBe(true)
      const page = await fetch(`${served.url}/`)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toContain('text/html')
      // SIWE_DOMAINS defaults to HOST:PORT (and localhost:PORT), known once it listens.
      const { siweDomain } = (await (await fetch(`${served.url}/api/config`)).json()) as {
        siweDomain: string
      }
      expect(siweDomain).toBe(`127.0.0.1:${served.port}`)
      const session = await signIn(served.url)
      const socket = await connectAuthenticated(`${served.url.replace('http', 'ws')}/ws`, session.token)
      try {
        expect(await served.sendToUser(session.user.id, { type: 'hello' })).toBe(1)
        expect(await socket.next('hello')).toEqual({ type: 'hello' })
        const { job } = await served.jobs.start('test_report', { parts: 2 }, { owner: session.user.id })
        await until('the app job to finish', async () => {
          const seen = await served.jobs.get(job.id, { owner: session.user.id })
          return seen.status === 'completed' ? seen : undefined
        })
      } finally {
        socket.close()
      }
    } finally {
      await served.stop()
      await database.close()
    }
    await expect(fetch(`${served.url}/health`)).rejects.toThrow()
  })
})
