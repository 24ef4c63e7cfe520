import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Server } from 'bun'
import { count, eq } from 'drizzle-orm'
import { within } from '../../../test/helpers/drill'
import { bundleForNode, nodeBinary } from '../../../test/helpers/nodeBundle'
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcpProxy'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { newAccount, signIn } from '../../../test/helpers/wallet'
import { notifications } from '../../server/db/schema'
import {
  AdminChannelPublishBodySchema,
  ChannelTokenBodySchema,
  isIdempotencyKey,
} from '../../shared/protocol'
import { createHeraldAdmin, HeraldAdminError } from './index'

// herald/admin against a real Herald, against scripted answers (retries, Retry-After, network errors), against
// a stub that speaks the channel admin routes of protocol §4 (the channel module is built on another branch),
// and bundled for Node 20.

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
}, 30_000)
afterAll(async () => {
  await server?.stop()
}, 30_000)

const content = { type: 'invoice.paid', title: 'Paid', message: 'Thank you' }
const stored = async (userId: string) =>
  (
    await server.database.db
      .select({ n: count() })
      .from(notifications)
      .where(eq(notifications.userId, Number(userId)))
  )[0]!.n

/** A server answering from a script, one entry per request (the last repeats), recording what it got. */
function scripted(answers: (() => Response)[]) {
  const requests: { path: string; headers: Headers; body: string }[] = []
  const stub = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      requests.push({
        path: new URL(request.url).pathname,
        headers: request.headers,
        body: await request.text(),
      })
      return answers[Math.min(requests.length, answers.length) - 1]!()
    },
  })
  return { url: `http://127.0.0.1:${stub.port}`, requests, stop: () => stub.stop(true) }
}
const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  () =>
    Response.json(body, { status, headers })
const failure = (status: number, code: string, headers: Record<string, string> = {}) =>
  json(status, { error: { code, message: `${code} for the test` } }, headers)

/** Waits recorded instead of slept. */
function recorder() {
  const waits: number[] = []
  return { waits, sleep: async (ms: number) => void waits.push(ms) }
}

describe('against Herald', () => {
  test('notify, notifyMany (both forms) and broadcast resolve to the routes’ bodies', async () => {
    const session = await signIn(server.url)
    const admin = createHeraldAdmin({ url: `${server.url}/`, adminKey: ADMIN_KEY })
    const one = await admin.notify({ userId: session.user.id, ...content, data: { invoice: 7 } })
    expect(one).toEqual({
      userId: session.user.id,
      notification: expect.objectContaining({ seq: 1, ...content, data: { invoice: 7 }, read: false }),
    })
    const newcomer = newAccount().address
    const byAddress = await admin.notify({ address: newcomer.toLowerCase(), ...content })
    expect(byAddress.userId).toMatch(/^\d+$/)
    const many = await admin.notifyMany([
      { userId: session.user.id, ...content },
      { address: newcomer, ...content },
    ])
    expect(many.results.map((r) => r.userId)).toEqual([session.user.id, byAddress.userId])
    const shared = await admin.notifyMany({
      recipients: [{ userId: session.user.id }, { address: newcomer }],
      notification: content,
    })
    expect(shared.results.map((r) => r.notification?.seq)).toEqual([3, 3])
    expect(await admin.broadcast({ type: 'maintenance' })).toEqual({ delivered: expect.any(Number) })
  })

  test('a key of the caller’s: the same call again stores once; another body with it → IDEMPOTENCY_KEY_REUSED', async () => {
    const session = await signIn(server.url)
    const admin = createHeraldAdmin({ url: server.url, adminKey: ADMIN_KEY })
    const idempotencyKey = `order-${crypto.randomUUID()}`
    const first = await admin.notify({ userId: session.user.id, ...content }, { idempotencyKey })
    const again = await admin.notify({ userId: session.user.id, ...content }, { idempotencyKey })
    expect(again).toEqual(first)
    expect(await stored(session.user.id)).toBe(1)
    const reused = await admin
      .notify({ userId: session.user.id, ...content, title: 'Other' }, { idempotencyKey })
      .catch((e: unknown) => e)
    expect(reused).toBeInstanceOf(HeraldAdminError)
    expect(reused).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED', attempts: 1 })
  })

  test('error answers reject at once with status and code: 404, 422, 401', async () => {
    const admin = createHeraldAdmin({ url: server.url, adminKey: ADMIN_KEY })
    await expect(admin.notify({ userId: '987654321', ...content })).rejects.toMatchObject({
      name: 'HeraldAdminError',
      status: 404,
      code: 'NOT_FOUND',
      attempts: 1,
    })
    await expect(admin.notify({ ...content } as never)).rejects.toMatchObject({
      status: 422,
      code: 'INVALID_INPUT',
    })
    const wrongKey = createHeraldAdmin({ url: server.url, adminKey: 'not-the-key' })
    await expect(wrongKey.broadcast({ type: 'x' })).rejects.toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
    })
  })
})

describe('retries', () => {
  test('503 and 429 are retried with the same key; 429 waits its Retry-After, 503 a jittered backoff', async () => {
    const stub = scripted([
      failure(503, 'SERVICE_UNAVAILABLE'),
      failure(429, 'RATE_LIMITED', { 'retry-after': '2' }),
      failure(503, 'SERVICE_UNAVAILABLE'),
      json(202, { delivered: 3 }),
    ])
    try {
      const { waits, sleep } = recorder()
      const admin = createHeraldAdmin({ url: stub.url, adminKey: 'k', sleep, minDelayMs: 100 })
      expect(await admin.broadcast({ type: 'hello' })).toEqual({ delivered: 3 })
      expect(stub.requests).toHaveLength(4)
      const keys = new Set(stub.requests.map((r) => r.headers.get('idempotency-key')))
      expect(keys.size).toBe(1)
      expect(isIdempotencyKey([...keys][0]!)).toBe(true)
      expect(stub.requests.every((r) => r.headers.get('authorization') === 'Bearer k')).toBe(true)
      expect(stub.requests.every((r) => r.body === '{"message":{"type":"hello"}}')).toBe(true)
      // Backoff: attempt n waits between half and all of 100 × 2^(n-1) ms; Retry-After: 2 s and a little.
      expect(waits[0]).toBeGreaterThanOrEqual(50)
      expect(waits[0]).toBeLessThanOrEqual(100)
      expect(waits[1]).toBeGreaterThanOrEqual(2000)
      expect(waits[1]).toBeLessThanOrEqual(2050)
      expect(waits[2]).toBeGreaterThanOrEqual(200)
      expect(waits[2]).toBeLessThanOrEqual(400)
      // Each call its own key.
      await admin.broadcast({ type: 'hello' })
      expect(new Set(stub.requests.map((r) => r.headers.get('idempotency-key'))).size).toBe(2)
    } finally {
      stub.stop()
    }
  })

  test('the 409 of a key still in use (it carries Retry-After) is retried; another 409, a 500 or a 400 is not', async () => {
    const stub = scripted([failure(409, 'CONFLICT', { 'retry-after': '1' }), json(201, { ok: true })])
    try {
      const { waits, sleep } = recorder()
      const admin = createHeraldAdmin({ url: stub.url, adminKey: 'k', sleep })
      expect(await admin.notify({ userId: '1', ...content })).toEqual({ ok: true } as never)
      expect(waits).toHaveLength(1)
      expect(waits[0]).toBeGreaterThanOrEqual(1000)
    } finally {
      stub.stop()
    }
    for (const [status, code] of [
      [409, 'CONFLICT'],
      [500, 'INTERNAL'],
      [400, 'BAD_REQUEST'],
    ] as const) {
      const once = scripted([failure(status, code), json(201, {})])
      try {
        const admin = createHeraldAdmin({ url: once.url, adminKey: 'k', sleep: recorder().sleep })
        await expect(admin.notify({ userId: '1', ...content })).rejects.toMatchObject({
          status,
          code,
          attempts: 1,
        })
        expect(once.requests).toHaveLength(1)
      } finally {
        once.stop()
      }
    }
  })

  test('retries spent: the last answer’s status and code, after 5 attempts by default or retries + 1', async () => {
    const stub = scripted([failure(503, 'SERVICE_UNAVAILABLE')])
    try {
      const admin = createHeraldAdmin({ url: stub.url, adminKey: 'k', sleep: recorder().sleep })
      await expect(admin.broadcast({ type: 'x' })).rejects.toMatchObject({
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        attempts: 5,
      })
      expect(stub.requests).toHaveLength(5)
      const fewer = createHeraldAdmin({ url: stub.url, adminKey: 'k', retries: 1, sleep: recorder().sleep })
      await expect(fewer.broadcast({ type: 'x' })).rejects.toMatchObject({ attempts: 2 })
      expect(stub.requests).toHaveLength(7)
    } finally {
      stub.stop()
    }
  })

  test('a body that is not the contract’s error shape → HTTP_ERROR with the status', async () => {
    const stub = scripted([() => new Response('<html>Bad gateway</html>', { status: 502 })])
    try {
      const admin = createHeraldAdmin({ url: stub.url, adminKey: 'k' })
      await expect(admin.broadcast({ type: 'x' })).rejects.toMatchObject({ status: 502, code: 'HTTP_ERROR' })
    } finally {
      stub.stop()
    }
  })

  test('network errors (refused, or closed before any answer) are retried, then NETWORK_ERROR with status 0', async () => {
    const closing = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        data(socket) {
          socket.end()
        },
      },
    })
    try {
      const { waits, sleep } = recorder()
      const admin = createHeraldAdmin({ url: `http://127.0.0.1:${closing.port}`, adminKey: 'k', sleep })
      const error = await admin.broadcast({ type: 'x' }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(HeraldAdminError)
      expect(error).toMatchObject({ status: 0, code: 'NETWORK_ERROR', attempts: 5 })
      expect(waits).toHaveLength(4)
    } finally {
      closing.stop(true)
    }
    const refused = createHeraldAdmin({
      url: 'http://127.0.0.1:9',
      adminKey: 'k',
      retries: 2,
      sleep: recorder().sleep,
    })
    await expect(refused.broadcast({ type: 'x' })).rejects.toMatchObject({
      code: 'NETWORK_ERROR',
      attempts: 3,
    })
  })

  test('a signal aborts the call, waits between attempts included', async () => {
    const stub = scripted([failure(503, 'SERVICE_UNAVAILABLE')])
    try {
      const controller = new AbortController()
      const admin = createHeraldAdmin({ url: stub.url, adminKey: 'k', minDelayMs: 60_000 })
      const call = admin.broadcast({ type: 'x' }, { signal: controller.signal })
      while (stub.requests.length === 0) await Bun.sleep(10)
      controller.abort(new Error('stop'))
      await expect(within(call, 5000, 'the aborted call')).rejects.toThrow('stop')
      expect(stub.requests).toHaveLength(1)
    } finally {
      stub.stop()
    }
  })
})

describe('channels (against a stub speaking protocol §4)', () => {
  let stub: Server<unknown>
  const received: { method: string; path: string; key: string | null; body: unknown }[] = []
  const publishBody = TypeCompiler.Compile(AdminChannelPublishBodySchema)
  const tokenBody = TypeCompiler.Compile(ChannelTokenBodySchema)
  let unavailableOnce = true

  beforeAll(() => {
    stub = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(request) {
        const path = new URL(request.url).pathname
        const body = await request.json().catch(() => undefined)
        received.push({ method: request.method, path, key: request.headers.get('idempotency-key'), body })
        if (request.headers.get('authorization') !== `Bearer ${ADMIN_KEY}`)
          return failure(401, 'UNAUTHORIZED')()
        if (request.headers.get('content-type') !== 'application/json') return failure(400, 'BAD_REQUEST')()
        const publication = path.match(/^\/api\/admin\/channels\/([^/]+)\/publications$/)
        if (request.method === 'POST' && publication) {
          if (!publishBody.Check(body)) return failure(422, 'INVALID_INPUT')()
          const channel = decodeURIComponent(publication[1]!)
          if (!/^(public|private|token|holders):[A-Za-z0-9_.:@-]{1,190}$/.test(channel))
            return failure(422, 'INVALID_CHANNEL')()
          if (unavailableOnce) {
            unavailableOnce = false
            return failure(503, 'SERVICE_UNAVAILABLE')()
          }
          const data = (body as { data: unknown }).data
          return json(201, {
            publication: { channel, seq: 1, data, publishedAt: new Date().toISOString() },
          })()
        }
        if (request.method === 'POST' && path === '/api/admin/channel-tokens') {
          if (!tokenBody.Check(body)) return failure(422, 'INVALID_INPUT')()
          return json(201, { token: 'header.payload.signature', expiresAt: '2030-01-01T00:00:00.000Z' })()
        }
        return failure(404, 'NOT_FOUND')()
      },
    })
  })
  afterAll(() => {
    stub?.stop(true)
  })

  test('publish: POST /api/admin/channels/:channel/publications {data} → {publication}, retried with its key', async () => {
    const admin = createHeraldAdmin({
      url: `http://127.0.0.1:${stub.port}`,
      adminKey: ADMIN_KEY,
      minDelayMs: 1,
    })
    const result = await admin.publish('public:news@2026', { headline: 'Hello' })
    expect(result.publication).toMatchObject({
      channel: 'public:news@2026',
      seq: 1,
      data: { headline: 'Hello' },
    })
    const calls = received.filter((r) => r.path.includes('/publications'))
    expect(calls.map((c) => c.path)).toEqual(
      Array(2).fill('/api/admin/channels/public:news@2026/publications'),
    )
    expect(calls[0]!.key).toBe(calls[1]!.key)
    expect(calls[0]!.body).toEqual({ data: { headline: 'Hello' } })
    await expect(admin.publish('nowhere', 1)).rejects.toMatchObject({ status: 422, code: 'INVALID_CHANNEL' })
  })

  test('issueChannelToken: POST /api/admin/channel-tokens → {token, expiresAt}', async () => {
    const admin = createHeraldAdmin({ url: `http://127.0.0.1:${stub.port}`, adminKey: ADMIN_KEY })
    const issued = await admin.issueChannelToken(
      { userId: '7', channel: 'private:room-1', ttlSeconds: 600 },
      { idempotencyKey: 'token-room-1-user-7' },
    )
    expect(issued).toEqual({ token: 'header.payload.signature', expiresAt: '2030-01-01T00:00:00.000Z' })
    expect(received.at(-1)).toEqual({
      method: 'POST',
      path: '/api/admin/channel-tokens',
      key: 'token-room-1-user-7',
      body: { userId: '7', channel: 'private:room-1', ttlSeconds: 600 },
    })
  })
})

// Bundled for Node the way the SDK is (nodeClient.fixture.mjs), run by the machine's node (20), through a
// proxy that drops the first answer: the retry with the same key stores the notification once.
describe.skipIf(!nodeBinary)('under Node', () => {
  let bundle: ReturnType<typeof bundleForNode>
  let proxy: TcpProxy

  beforeAll(async () => {
    bundle = bundleForNode(join(import.meta.dir, 'nodeAdmin.fixture.mjs'))
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(server.url).port) })
  }, 30_000)
  afterAll(async () => {
    await proxy?.stop()
    bundle?.remove()
  })

  test('the bundle holds none of the server: no database, Bun or job queue code', () => {
    const text = readFileSync(bundle.path, 'utf8')
    for (const server of ['drizzle-orm', 'pg-boss', 'postgres', 'bun:', 'elysia', 'typebox'])
      expect(text.includes(server)).toBe(false)
  })

  test('a notification published from Node through a dropped answer is stored once', async () => {
    const session = await signIn(server.url)
    proxy.dropReplies(1)
    const child = Bun.spawn([nodeBinary!, bundle.path], {
      env: {
        ...process.env,
        HERALD_URL: proxy.url(server.url),
        HERALD_ADMIN_KEY: ADMIN_KEY,
        HERALD_USER_ID: session.user.id,
      },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [exitCode, stdout, stderr] = await within(
      Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]),
      20_000,
      'node to publish and exit',
    )
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' })
    const output = JSON.parse(stdout) as { userId: string; notification: { seq: number }; node: string }
    expect(output.userId).toBe(session.user.id)
    expect(output.notification.seq).toBe(1)
    expect(output.node).toMatch(/^\d+\./)
    expect(proxy.repliesDropped).toBe(1)
    expect(await stored(session.user.id)).toBe(1)
  }, 30_000)
})
