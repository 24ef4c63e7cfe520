import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count, eq } from 'drizzle-orm'
import { createManualClock, type ManualClock } from '../../../test/helpers/manualClock'
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcpProxy'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import { createHeraldAdmin } from '../../client/admin'
import type { Notification } from '../../shared/protocol'
import { idempotencyKeys, notifications } from '../db/schema'
import { fingerprint } from '../http/idempotency'

// Publishing exactly once (docs/protocol.md §6): Idempotency-Key on the publishing and state-changing routes.
// The two-instance case is in idempotency.scaleOut.test.ts, POST /api/tokens in idempotency.tokens.test.ts.

let server: TestServer
let clock: ManualClock
const sockets: TestSocket[] = []

beforeAll(async () => {
  clock = createManualClock()
  server = await startTestServer({}, { clock })
}, 30_000)
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await server?.stop()
}, 30_000)

let keys = 0
const newKey = () => `key-${++keys}-${crypto.randomUUID()}`
const content = (title = 'Shipped') => ({ type: 'order.shipped', title, message: 'On its way' })

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      ...bearer(ADMIN_KEY),
      'content-type': 'application/json',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}
const withKey = (key: string) => ({ 'idempotency-key': key })
/** A single publish to `userId` with `key` (and a title, so another title is another body). */
const publishKeyed = (userId: string, key: string, title?: string) =>
  post('/api/admin/notifications', { userId, ...content(title) }, withKey(key))
const codeOf = async (response: Response) =>
  ((await response.json()) as { error: { code: string } }).error.code

async function answer(response: Response) {
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed'),
    text: await response.text(),
  }
}

async function storedFor(userId: string) {
  const [row] = await server.database.db
    .select({ n: count() })
    .from(notifications)
    .where(eq(notifications.userId, Number(userId)))
  return row!.n
}

async function listening(session: Session) {
  const socket = await connectAuthenticated(server.wsUrl, session.token)
  sockets.push(socket)
  return socket
}

/**
 * The notifications a socket received, after a barrier: one more notification, published without a key, has
 * arrived after everything before it, so a duplicate of an earlier one would be there by now.
 */
async function receivedBefore(socket: TestSocket, userId: string): Promise<Notification[]> {
  const barrier = await post('/api/admin/notifications', { userId, ...content('barrier') })
  const { notification } = (await barrier.json()) as { notification: Notification }
  await socket.next(
    (m) =>
      m.type === 'notification' && (m as { notification: Notification }).notification.id === notification.id,
  )
  return socket.messages
    .filter((m) => m.type === 'notification')
    .map((m) => (m as { notification: Notification }).notification)
    .filter((n) => n.id !== notification.id)
}

/** Moves the server's clock on, a step at a time, until `pending` settles; answers it and how far it moved. */
async function advanceUntilSettled<T>(pending: Promise<T>, stepMs = 500) {
  let settled = false
  void pending.then(
    () => (settled = true),
    () => (settled = true),
  )
  let advanced = 0
  // Each step gives the waiting request a real moment to poll at the new time.
  while (!settled) {
    await Promise.race([pending, Bun.sleep(50)])
    if (settled) break
    clock.advance(stepMs)
    advanced += stepMs
    if (advanced > 120_000) throw new Error('the request never settled')
  }
  return { value: await pending, advanced }
}

describe('a key replays the first answer', () => {
  test('the same key and body (any key order, any whitespace) → the same status and body, Idempotent-Replayed, stored and delivered once', async () => {
    const session = await signIn(server.url)
    const socket = await listening(session)
    const key = newKey()
    const first = await answer(await publishKeyed(session.user.id, key))
    expect(first.status).toBe(201)
    expect(first.replayed).toBeNull()
    const reordered = `{ "message":"On its way" ,\n "title": "Shipped", "type":"order.shipped","userId":"${session.user.id}" }`
    for (const body of [{ userId: session.user.id, ...content() }, reordered]) {
      const again = await answer(await post('/api/admin/notifications', body, withKey(key)))
      expect(again).toEqual({ status: 201, replayed: 'true', text: first.text })
    }
    expect(await storedFor(session.user.id)).toBe(1)
    const received = await receivedBefore(socket, session.user.id)
    expect(received.map((n) => n.id)).toEqual([JSON.parse(first.text).notification.id])
  })

  test('the same key with another body → 422 IDEMPOTENCY_KEY_REUSED, nothing stored', async () => {
    const session = await signIn(server.url)
    const key = newKey()
    expect((await publishKeyed(session.user.id, key)).status).toBe(201)
    const other = await publishKeyed(session.user.id, key, 'Other')
    expect(other.status).toBe(422)
    expect(await codeOf(other)).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(await storedFor(session.user.id)).toBe(1)
  })

  test('the same key on another route is another key; requests without a key are never replayed', async () => {
    const session = await signIn(server.url)
    const key = newKey()
    const single = await publishKeyed(session.user.id, key)
    const batch = await post(
      '/api/admin/notifications/batch',
      { recipients: [{ userId: session.user.id }], notification: content() },
      withKey(key),
    )
    expect([single.status, batch.status]).toEqual([201, 201])
    expect(batch.headers.get('idempotent-replayed')).toBeNull()
    for (let i = 0; i < 2; i++) {
      const plain = await post('/api/admin/notifications', { userId: session.user.id, ...content() })
      expect(plain.headers.get('idempotent-replayed')).toBeNull()
    }
    expect(await storedFor(session.user.id)).toBe(4)
  })

  test('keys are 1–255 printable ASCII characters; anything else → 400 INVALID_INPUT before anything runs', async () => {
    const session = await signIn(server.url)
    const body = { userId: session.user.id, ...content() }
    for (const bad of ['', 'x'.repeat(256), 'clé']) {
      const response = await post('/api/admin/notifications', body, withKey(bad))
      expect(response.status).toBe(400)
      expect(await codeOf(response)).toBe('INVALID_INPUT')
    }
    expect(await storedFor(session.user.id)).toBe(0)
    for (const good of ['a', `${'~'.repeat(200)} !{}"\\${'z'.repeat(49)}`.slice(0, 255)]) {
      expect((await post('/api/admin/notifications', body, withKey(good))).status).toBe(201)
    }
    expect(await storedFor(session.user.id)).toBe(2)
  })

  test('4xx answers are remembered, validation failures included; another body after them is a reused key', async () => {
    const key = newKey()
    const missing = { userId: '999999999', ...content() }
    const first = await answer(await post('/api/admin/notifications', missing, withKey(key)))
    expect(first.status).toBe(404)
    expect(await answer(await post('/api/admin/notifications', missing, withKey(key)))).toEqual({
      ...first,
      replayed: 'true',
    })

    const invalidKey = newKey()
    const invalid = { userId: '1', type: '', title: 't', message: 'm' }
    const refused = await answer(await post('/api/admin/notifications', invalid, withKey(invalidKey)))
    expect(refused.status).toBe(422)
    expect(await answer(await post('/api/admin/notifications', invalid, withKey(invalidKey)))).toEqual({
      ...refused,
      replayed: 'true',
    })
    const session = await signIn(server.url)
    const fixed = await publishKeyed(session.user.id, invalidKey)
    expect(fixed.status).toBe(422)
    expect(await codeOf(fixed)).toBe('IDEMPOTENCY_KEY_REUSED')
  })

  test('a 5xx is forgotten: the retry runs again, with any body', async () => {
    // No chain on this server: POST /api/tokens answers 503 after the key was taken.
    const session = await signIn(server.url)
    const key = newKey()
    const deploy = (symbol: string) =>
      post(
        '/api/tokens',
        { name: 'Token', symbol, initialSupply: '1' },
        { ...bearer(session.token), ...withKey(key) },
      )
    for (const symbol of ['AAA', 'AAA', 'BBB']) {
      const response = await deploy(symbol)
      expect(response.status).toBe(503)
      expect(response.headers.get('idempotent-replayed')).toBeNull()
    }
    const rows = await server.database.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key))
    expect(rows).toEqual([])
  })

  test('broadcast: a replay sends nothing again', async () => {
    const listener = connectSocket(server.wsUrl)
    sockets.push(listener)
    await listener.opened
    await listener.next('connected')
    const key = newKey()
    const message = { type: 'maintenance', at: 'noon' }
    const first = await answer(await post('/api/admin/broadcast', { message }, withKey(key)))
    const again = await answer(await post('/api/admin/broadcast', { message }, withKey(key)))
    expect(first.status).toBe(202)
    expect(again).toEqual({ ...first, replayed: 'true' })
    await post('/api/admin/broadcast', { message: { type: 'barrier' } })
    await listener.next('barrier')
    expect(listener.messages.filter((m) => m.type === 'maintenance')).toHaveLength(1)
  })
})

describe('user routes: keys are the user’s own', () => {
  test('read-all: a replay answers the first result; another user’s identical key is another key', async () => {
    const [alice, bob] = await Promise.all([signIn(server.url), signIn(server.url)])
    for (const user of [alice, bob])
      await post('/api/admin/notifications', { userId: user.user.id, ...content() })
    const key = newKey()
    const readAll = (session: Session) =>
      post('/api/notifications/read-all', undefined, { ...bearer(session.token), ...withKey(key) })
    const first = await answer(await readAll(alice))
    const readOne = { updated: 1, upToSeq: 1, unreadCount: 0, unseenCount: 0, seq: 1, version: 1 }
    expect(JSON.parse(first.text)).toEqual(readOne)
    await post('/api/admin/notifications', { userId: alice.user.id, ...content() })
    expect(await answer(await readAll(alice))).toEqual({ ...first, replayed: 'true' })
    const forBob = await answer(await readAll(bob))
    expect(forBob.replayed).toBeNull()
    expect(JSON.parse(forBob.text)).toEqual(readOne)
  })

  test('the path is part of the request: the same key for another notification → 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const session = await signIn(server.url)
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const response = await post('/api/admin/notifications', { userId: session.user.id, ...content() })
      ids.push(((await response.json()) as { notification: Notification }).notification.id)
    }
    const key = newKey()
    const read = (id: string) =>
      post(`/api/notifications/${id}/read`, undefined, { ...bearer(session.token), ...withKey(key) })
    expect((await read(ids[0]!)).status).toBe(200)
    const replay = await read(ids[0]!)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    const other = await read(ids[1]!)
    expect(other.status).toBe(422)
    expect(await codeOf(other)).toBe('IDEMPOTENCY_KEY_REUSED')
  })

  test('without a valid session → 401, and the key is not taken', async () => {
    const session = await signIn(server.url)
    const key = newKey()
    const refused = await post('/api/notifications/read-all', undefined, {
      ...bearer('nope'),
      ...withKey(key),
    })
    expect(refused.status).toBe(401)
    const accepted = await post('/api/notifications/read-all', undefined, {
      ...bearer(session.token),
      ...withKey(key),
    })
    expect(accepted.status).toBe(200)
    expect(accepted.headers.get('idempotent-replayed')).toBeNull()
  })
})

describe('concurrent requests with one key', () => {
  test('ten at once: one runs, the others wait and get its answer; one notification stored', async () => {
    const session = await signIn(server.url)
    const socket = await listening(session)
    const key = newKey()
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => answer(await publishKeyed(session.user.id, key))),
    )
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201))
    expect(new Set(answers.map((a) => a.text)).size).toBe(1)
    expect(answers.filter((a) => a.replayed === 'true')).toHaveLength(9)
    expect(await storedFor(session.user.id)).toBe(1)
    expect(await receivedBefore(socket, session.user.id)).toHaveLength(1)
  })

  test('a batch five times at once: stored once, all or nothing', async () => {
    const [a, b] = await Promise.all([signIn(server.url), signIn(server.url)])
    const key = newKey()
    const body = { recipients: [{ userId: a.user.id }, { userId: b.user.id }], notification: content() }
    const answers = await Promise.all(
      Array.from({ length: 5 }, async () =>
        answer(await post('/api/admin/notifications/batch', body, withKey(key))),
      ),
    )
    expect(answers.map((x) => x.status)).toEqual(Array(5).fill(201))
    expect(new Set(answers.map((x) => x.text)).size).toBe(1)
    expect([await storedFor(a.user.id), await storedFor(b.user.id)]).toEqual([1, 1])
  })
})

describe('a key in use elsewhere (with the injected clock)', () => {
  /** A row as another instance running the request would hold it, with its lease `leaseMs` from now. */
  async function runningElsewhere(key: string, body: unknown, leaseMs: number) {
    await server.database.db.insert(idempotencyKeys).values({
      scope: 'admin',
      method: 'POST',
      route: '/api/admin/notifications',
      key,
      fingerprint: fingerprint({}, body),
      holder: crypto.randomUUID(),
      leaseUntil: new Date(clock.now() + leaseMs),
      createdAt: new Date(clock.now()),
      expiresAt: new Date(clock.now() + 24 * 3600_000),
    })
  }

  test('waits up to 10 s, then 409 CONFLICT with Retry-After; nothing stored', async () => {
    const session = await signIn(server.url)
    const key = newKey()
    const body = { userId: session.user.id, ...content() }
    await runningElsewhere(key, body, 60_000)
    const { value, advanced } = await advanceUntilSettled(
      post('/api/admin/notifications', body, withKey(key)),
    )
    expect(advanced).toBeGreaterThanOrEqual(10_000)
    expect(value.status).toBe(409)
    expect(value.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/)
    expect(await codeOf(value)).toBe('CONFLICT')
    expect(await storedFor(session.user.id)).toBe(0)
  })

  test('a waiting request gets the first one’s answer when it is recorded', async () => {
    const key = newKey()
    const body = { userId: '1', ...content() }
    await runningElsewhere(key, body, 60_000)
    const waiting = post('/api/admin/notifications', body, withKey(key))
    const recorded = '{"recorded":"elsewhere"}'
    await server.database.db
      .update(idempotencyKeys)
      .set({ status: 201, body: recorded, holder: null, leaseUntil: null })
      .where(eq(idempotencyKeys.key, key))
    expect(await answer(await waiting)).toEqual({ status: 201, replayed: 'true', text: recorded })
  })

  test('another body while it runs → 422 at once', async () => {
    const key = newKey()
    await runningElsewhere(key, { userId: '1', ...content() }, 60_000)
    const response = await post(
      '/api/admin/notifications',
      { userId: '1', ...content('Other') },
      withKey(key),
    )
    expect(response.status).toBe(422)
  })

  test('a request that died holding a key blocks it only until its lease lapses: the retry then runs it', async () => {
    const session = await signIn(server.url)
    const key = newKey()
    const body = { userId: session.user.id, ...content() }
    await runningElsewhere(key, body, 5_000)
    const { value, advanced } = await advanceUntilSettled(
      post('/api/admin/notifications', body, withKey(key)),
    )
    expect(value.status).toBe(201)
    expect(advanced).toBeGreaterThanOrEqual(5_000)
    expect(advanced).toBeLessThan(10_000)
    expect(await storedFor(session.user.id)).toBe(1)
    const replay = await post('/api/admin/notifications', body, withKey(key))
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
  })
})

describe('publishers whose connection is cut after the request arrived', () => {
  let proxy: TcpProxy
  beforeAll(async () => {
    const { port } = new URL(server.url)
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(port) })
  })
  afterAll(async () => {
    await proxy?.stop()
  })
  const admin = () =>
    createHeraldAdmin({ url: proxy.url(server.url), adminKey: ADMIN_KEY, minDelayMs: 10, maxDelayMs: 50 })

  test('herald/admin notify retries with its key: stored and delivered exactly once', async () => {
    const session = await signIn(server.url)
    const socket = await listening(session)
    const dropped = proxy.repliesDropped
    proxy.dropReplies(1)
    const result = await admin().notify({ userId: session.user.id, ...content() })
    expect(proxy.repliesDropped).toBe(dropped + 1)
    expect(result.userId).toBe(session.user.id)
    expect(await storedFor(session.user.id)).toBe(1)
    const received = await receivedBefore(socket, session.user.id)
    expect(received).toEqual([result.notification!])
  })

  test('herald/admin notifyMany: the batch stored and delivered exactly once', async () => {
    const sessions = await Promise.all([signIn(server.url), signIn(server.url), signIn(server.url)])
    const listeners = await Promise.all(sessions.map(listening))
    const dropped = proxy.repliesDropped
    proxy.dropReplies(1)
    const { results } = await admin().notifyMany(sessions.map((s) => ({ userId: s.user.id, ...content() })))
    expect(proxy.repliesDropped).toBe(dropped + 1)
    expect(results.map((r) => r.userId)).toEqual(sessions.map((s) => s.user.id))
    for (const [i, session] of sessions.entries()) {
      expect(await storedFor(session.user.id)).toBe(1)
      expect(await receivedBefore(listeners[i]!, session.user.id)).toEqual([results[i]!.notification!])
    }
  })

  test('a plain retry without a key stores twice: what the key is for', async () => {
    const session = await signIn(server.url)
    proxy.dropReplies(1)
    const url = `${proxy.url(server.url)}api/admin/notifications`
    const send = () =>
      fetch(url, {
        method: 'POST',
        headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
        body: JSON.stringify({ userId: session.user.id, ...content() }),
      })
    await expect(send()).rejects.toThrow()
    expect((await send()).status).toBe(201)
    expect(await storedFor(session.user.id)).toBe(2)
  })
})

describe('retention', () => {
  test('after 24 hours a key is new again', async () => {
    const session = await signIn(server.url)
    const key = newKey()
    expect((await publishKeyed(session.user.id, key)).status).toBe(201)
    clock.advance(24 * 3600_000 - 1000)
    const before = await publishKeyed(session.user.id, key, 'Later')
    expect(before.status).toBe(422)
    clock.advance(1000)
    const after = await publishKeyed(session.user.id, key, 'Later')
    expect(after.status).toBe(201)
    expect(after.headers.get('idempotent-replayed')).toBeNull()
    expect(await storedFor(session.user.id)).toBe(2)
  })
})

describe('the OpenAPI description', () => {
  test('every route that takes the header documents it', async () => {
    const doc = (await (await fetch(`${server.url}/openapi/json`)).json()) as {
      paths: Record<string, { post?: { parameters?: { in: string; name: string; required: boolean }[] } }>
    }
    for (const path of [
      '/api/admin/notifications',
      '/api/admin/notifications/batch',
      '/api/admin/broadcast',
      '/api/tokens',
      '/api/notifications/read-all',
      '/api/notifications/{id}/read',
    ]) {
      const header = doc.paths[path]?.post?.parameters?.find((p) => p.in === 'header')
      expect({ path, header }).toEqual({
        path,
        header: expect.objectContaining({ name: 'idempotency-key', required: false }),
      })
    }
  })
})
