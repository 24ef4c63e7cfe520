import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count } from 'drizzle-orm'
import { getAddress } from 'viem'
import { createManualClock } from '../../../test/helpers/manualClock'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, newAccount, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { busPayloads, notifications, users } from '../db/schema'
import { DEFAULT_MAX_BATCH } from './adminRoutes'

// POST /api/admin/notifications/batch (docs/protocol.md §3, Herald's additions).

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

interface BatchBody {
  results: { notification: Notification; userId: string }[]
}
interface ErrorBody {
  error: { code: string; message: string }
}

const content = { type: 'sale.started', title: 'Sale', message: 'Everything half price' }

const postBatch = (body: unknown, headers: Record<string, string> = bearer(ADMIN_KEY)) =>
  fetch(`${server.url}/api/admin/notifications/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })

async function expectError(response: Response, status: number, code: string): Promise<ErrorBody> {
  expect(response.status).toBe(status)
  const body = (await response.json()) as ErrorBody
  expect(body).toEqual({ error: { code, message: expect.any(String) } })
  return body
}

async function rowCounts() {
  const db = server.database.db
  const [[u], [n], [p]] = await Promise.all([
    db.select({ n: count() }).from(users),
    db.select({ n: count() }).from(notifications),
    db.select({ n: count() }).from(busPayloads),
  ])
  return { users: u!.n, notifications: n!.n, busPayloads: p!.n }
}

async function signedInListeners(n: number) {
  const sessions = await Promise.all(Array.from({ length: n }, () => signIn(server.url)))
  const sockets = await Promise.all(sessions.map((s) => connectAuthenticated(server.wsUrl, s.token)))
  return { sessions, sockets }
}

describe('POST /api/admin/notifications/batch', () => {
  test('one notification for many recipients: 201 {results} in request order, each user receives it once with its next seq', async () => {
    const { sessions, sockets } = await signedInListeners(3)
    // The first user already has one notification: the batch continues its seqs.
    expect((await server.publish({ userId: sessions[0]!.user.id, ...content })).status).toBe(201)
    await sockets[0]!.next('notification')

    const response = await postBatch({
      recipients: sessions.map((s) => ({ userId: s.user.id })),
      notification: { ...content, data: { sku: 7 } },
    })
    expect(response.status).toBe(201)
    const body = (await response.json()) as BatchBody
    expect(Object.keys(body)).toEqual(['results'])
    expect(body.results.map((r) => r.userId)).toEqual(sessions.map((s) => s.user.id))
    expect(body.results.map((r) => r.notification.seq)).toEqual([2, 1, 1])
    for (const { notification } of body.results) {
      expect(notification).toEqual({
        id: expect.stringMatching(/^[1-9][0-9]*$/),
        seq: expect.any(Number),
        ...content,
        data: { sku: 7 },
        createdAt: expect.any(String),
        read: false,
        seen: false,
        archived: false,
        critical: false,
      })
      expect(new Date(notification.createdAt).toISOString()).toBe(notification.createdAt)
    }
    expect(new Set(body.results.map((r) => r.notification?.id)).size).toBe(3)

    for (const [i, socket] of sockets.entries()) {
      const pushed = await socket.next<{ type: 'notification'; notification: Notification }>('notification')
      expect(pushed.notification).toEqual(body.results[i]!.notification)
    }
    // A marker after the batch: nothing arrived twice before it.
    expect((await server.publish({ userId: sessions[1]!.user.id, ...content })).status).toBe(201)
    const marker = await sockets[1]!.next<{ type: 'notification'; notification: Notification }>(
      'notification',
    )
    expect(marker.notification.seq).toBe(2)
    for (const socket of sockets) {
      expect(socket.messages.filter((m) => m.type === 'notification').length).toBe(
        socket === sockets[0] ? 2 : socket === sockets[1] ? 2 : 1,
      )
      socket.close()
    }

    // Stored: the inbox lists it, and a resume from 0 replays it.
    const listed = await fetch(`${server.url}/api/notifications`, { headers: bearer(sessions[2]!.token) })
    expect(((await listed.json()) as { notifications: Notification[] }).notifications).toEqual([
      body.results[2]!.notification,
    ])
    const resuming = await connectAuthenticated(server.wsUrl, sessions[0]!.token)
    resuming.send({ type: 'resume', since: 1 })
    const replayed = await resuming.next<{ type: 'notification'; notification: Notification }>('notification')
    expect(replayed.notification).toEqual(body.results[0]!.notification)
    expect(await resuming.next('resumed')).toEqual({ type: 'resumed', since: 1, replayed: 1, seq: 2 })
    resuming.close()
  })

  test('per-recipient notifications, by id and by address, the same user several times: seqs in request order', async () => {
    const { sessions, sockets } = await signedInListeners(2)
    const [a, b] = sessions as [(typeof sessions)[0], (typeof sessions)[0]]
    const newcomer = newAccount()
    const before = await rowCounts()
    const entries = [
      { userId: a.user.id, type: 't1', title: 'first', message: 'one' },
      { address: b.user.address.toLowerCase(), type: 't2', title: 'second', message: 'two', data: [1] },
      { userId: a.user.id, type: 't3', title: 'third', message: 'three', data: null },
      { address: newcomer.address.toLowerCase(), type: 't4', title: 'fourth', message: 'four' },
      { address: a.user.address, type: 't5', title: 'fifth', message: 'five', data: { deep: { x: 'y' } } },
      { address: getAddress(newcomer.address), type: 't6', title: 'sixth', message: 'six' },
    ]
    const response = await postBatch({ notifications: entries })
    expect(response.status).toBe(201)
    const { results } = (await response.json()) as BatchBody
    const newcomerId = results[3]!.userId
    expect(results.map((r) => r.userId)).toEqual([
      a.user.id,
      b.user.id,
      a.user.id,
      newcomerId,
      a.user.id,
      newcomerId,
    ])
    expect(results.map((r) => r.notification.seq)).toEqual([1, 1, 2, 1, 3, 2])
    expect(results.map((r) => r.notification.title)).toEqual(entries.map((e) => e.title))
    expect(results.map((r) => r.notification.data)).toEqual([
      null,
      [1],
      null,
      null,
      { deep: { x: 'y' } },
      null,
    ])
    // The one new address got one user row; it finds its notifications at its first sign-in.
    expect(await rowCounts()).toMatchObject({
      users: before.users + 1,
      notifications: before.notifications + 6,
    })
    const newSession = await signIn(server.url, newcomer)
    expect(newSession.user.id).toBe(newcomerId)

    const receivedByA = await sockets[0]!.collect<{ type: 'notification'; notification: Notification }>(
      'notification',
      3,
    )
    expect(receivedByA.map((m) => m.notification)).toEqual([
      results[0]!.notification,
      results[2]!.notification,
      results[4]!.notification,
    ])
    const receivedByB = await sockets[1]!.next<{ type: 'notification'; notification: Notification }>(
      'notification',
    )
    expect(receivedByB.notification).toEqual(results[1]!.notification)
    for (const socket of sockets) socket.close()
  })

  test('notifications too large for one NOTIFY payload still arrive, once, from the batch and the single route', async () => {
    const { sessions, sockets } = await signedInListeners(1)
    const big = 'é'.repeat(5000)
    const response = await postBatch({
      recipients: [{ userId: sessions[0]!.user.id }, { userId: sessions[0]!.user.id }],
      notification: { ...content, message: big.slice(0, 4000), data: { text: big } },
    })
    expect(response.status).toBe(201)
    const { results } = (await response.json()) as BatchBody
    const pushed = await sockets[0]!.collect<{ type: 'notification'; notification: Notification }>(
      'notification',
      2,
    )
    expect(pushed.map((m) => m.notification)).toEqual(results.map((r) => r.notification))
    // Short to send, long once stored: jsonb prints each of these numbers with 301 digits.
    const single = await server.publish({
      userId: sessions[0]!.user.id,
      ...content,
      data: Array(30).fill(1e300),
    })
    expect(single.status).toBe(201)
    const stored = ((await single.json()) as { notification: Notification }).notification
    expect(stored.data).toEqual(Array(30).fill(1e300))
    const all = await sockets[0]!.collect<{ type: 'notification'; notification: Notification }>(
      'notification',
      3,
    )
    expect(all[2]!.notification).toEqual(stored)
    sockets[0]!.close()
  })

  test('an unknown userId anywhere → 404 NOT_FOUND naming it; nothing is stored, created or sent', async () => {
    const { sessions, sockets } = await signedInListeners(1)
    const before = await rowCounts()
    const newcomer = newAccount()
    const response = await postBatch({
      notifications: [
        { userId: sessions[0]!.user.id, ...content },
        { address: newcomer.address, ...content },
        { userId: '987654321', ...content },
      ],
    })
    const error = await expectError(response, 404, 'NOT_FOUND')
    expect(error.error.message).toContain('987654321')
    expect(await rowCounts()).toEqual(before)
    // The user's next notification is seq 1 and the first thing the socket receives.
    const after = await server.publish({ userId: sessions[0]!.user.id, ...content })
    expect(((await after.json()) as { notification: Notification }).notification.seq).toBe(1)
    const first = await sockets[0]!.next()
    expect(first.type).toBe('notification')
    expect((first as { notification: Notification }).notification.seq).toBe(1)
    sockets[0]!.close()
  })

  test('userIds only, no Idempotency-Key (one statement, no transaction): an unknown userId → 404 naming it, nothing stored or sent', async () => {
    const { sessions, sockets } = await signedInListeners(2)
    const before = await rowCounts()
    const response = await postBatch({
      recipients: [
        { userId: sessions[0]!.user.id },
        { userId: '987654325' },
        { userId: sessions[1]!.user.id },
      ],
      notification: content,
    })
    const error = await expectError(response, 404, 'NOT_FOUND')
    expect(error.error.message).toContain('987654325')
    expect(await rowCounts()).toEqual(before)
    // The same batch without the unknown user is stored, each user's first seq the first thing its socket gets.
    const stored = await postBatch({
      recipients: sessions.map((s) => ({ userId: s.user.id })),
      notification: content,
    })
    expect(stored.status).toBe(201)
    expect(((await stored.json()) as BatchBody).results.map((r) => r.notification.seq)).toEqual([1, 1])
    for (const socket of sockets) {
      expect(((await socket.next('notification')) as { notification: Notification }).notification.seq).toBe(1)
      socket.close()
    }
  })

  test('bad bodies → 422 INVALID_INPUT naming the field, nothing written', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    const before = await rowCounts()
    const cases: [unknown, string][] = [
      [{}, 'notifications'],
      [{ recipients: [{ userId }] }, 'notification'],
      [{ notification: content }, 'recipients'],
      [
        { recipients: [{ userId }], notification: content, notifications: [{ userId, ...content }] },
        'notifications',
      ],
      [{ notifications: [] }, 'notifications'],
      [{ recipients: [], notification: content }, 'recipients'],
      [{ notifications: { userId, ...content } }, 'notifications'],
      [{ notifications: [{ ...content }] }, 'notifications[0]'],
      [
        {
          notifications: [
            { userId, ...content },
            { userId, address: session.user.address, ...content },
          ],
        },
        'notifications[1]',
      ],
      [{ recipients: [{ userId }, {}], notification: content }, 'recipients[1]'],
      [{ recipients: [{ userId: 'abc' }], notification: content }, 'userId'],
      [{ recipients: [{ address: '0x1234' }], notification: content }, 'address'],
      [{ recipients: [{ userId }], notification: { ...content, type: '' } }, 'type'],
      [{ recipients: [{ userId }], notification: { ...content, title: 5 } }, 'title'],
      [{ notifications: [{ userId, ...content, message: 'x'.repeat(10001) }] }, 'message'],
      [{ recipients: [{ userId }], notification: { ...content, title: 'a\u0000b' } }, 'notification.title'],
      [{ notifications: [{ userId, ...content, data: ['\ud800'] }] }, 'notifications[0].data'],
      [
        { recipients: [{ userId }], notification: { ...content, message: 'a\udc00' } },
        'notification.message',
      ],
      [
        {
          notifications: [
            { userId, ...content },
            { userId, ...content, data: { k: '\u0000' } },
          ],
        },
        'notifications[1].data',
      ],
    ]
    for (const [body, field] of cases) {
      const error = await expectError(await postBatch(body), 422, 'INVALID_INPUT')
      expect(error.error.message).toContain(field)
    }
    expect(await rowCounts()).toEqual(before)
  })

  test(`more than the limit (${DEFAULT_MAX_BATCH}) → 422 INVALID_INPUT naming the limit; exactly the limit is stored`, async () => {
    const session = await signIn(server.url)
    const before = await rowCounts()
    const over = await postBatch({
      recipients: Array.from({ length: DEFAULT_MAX_BATCH + 1 }, () => ({ userId: session.user.id })),
      notification: content,
    })
    const error = await expectError(over, 422, 'INVALID_INPUT')
    expect(error.error.message).toContain(String(DEFAULT_MAX_BATCH))
    expect(await rowCounts()).toEqual(before)

    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const exact = await postBatch({
      recipients: Array.from({ length: DEFAULT_MAX_BATCH }, () => ({ userId: session.user.id })),
      notification: content,
    })
    expect(exact.status).toBe(201)
    const { results } = (await exact.json()) as BatchBody
    expect(results.map((r) => r.notification.seq)).toEqual(
      Array.from({ length: DEFAULT_MAX_BATCH }, (_, i) => i + 1),
    )
    const pushed = await socket.collect<{ type: 'notification'; notification: Notification }>(
      'notification',
      DEFAULT_MAX_BATCH,
      30_000,
    )
    expect(pushed.map((m) => m.notification.seq)).toEqual(results.map((r) => r.notification.seq))
    socket.close()
  }, 60_000)

  test('a body over MAX_BODY_BYTES → 413; a wrong key → 401 before the body is read', async () => {
    const session = await signIn(server.url)
    const before = await rowCounts()
    const huge = await postBatch({
      recipients: [{ userId: session.user.id }],
      notification: { ...content, data: { blob: 'x'.repeat(300_000) } },
    })
    await expectError(huge, 413, 'PAYLOAD_TOO_LARGE')
    await expectError(await postBatch({ nonsense: true }, bearer('wrong-key')), 401, 'UNAUTHORIZED')
    await expectError(
      await postBatch({ recipients: [{ userId: session.user.id }], notification: content }, {}),
      401,
      'UNAUTHORIZED',
    )
    expect(await rowCounts()).toEqual(before)
  })
})

describe('the batch route shares the publishing rate limit', () => {
  test('one token per request: over the budget → 429 RATE_LIMITED with Retry-After, nothing written', async () => {
    const limited = await startTestServer(
      { ADMIN_RATE_PER_SECOND: '1' },
      // A clock that stands still: the bucket never refills during the test, however slow the machine.
      { database: server.database, keepDatabase: true, clock: createManualClock() },
    )
    try {
      const session = await signIn(limited.url)
      const socket = connectSocket(limited.wsUrl)
      await socket.next('connected')
      const batch = () =>
        fetch(`${limited.url}/api/admin/notifications/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...bearer(ADMIN_KEY) },
          body: JSON.stringify({ recipients: [{ userId: session.user.id }], notification: content }),
        })
      // The burst is twice the rate: two requests pass (one single, one batch), the third is refused.
      expect((await limited.publish({ userId: session.user.id, ...content })).status).toBe(201)
      expect((await batch()).status).toBe(201)
      const before = await rowCounts()
      const refused = await batch()
      await expectError(refused.clone(), 429, 'RATE_LIMITED')
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(await rowCounts()).toEqual(before)
      socket.close()
    } finally {
      await limited.stop()
    }
  }, 30_000)
})
