import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count } from 'drizzle-orm'
import { getAddress } from 'viem'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, newAccount, signIn } from '../../../test/helpers/wallet'
import { connectSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { notifications, users } from '../db/schema'

// Publishing from another backend (contract §1 "Publishing from another backend").

let server: TestServer
// Starting a server on a fresh PGlite takes seconds on a busy machine: more than the default hook timeout.
beforeAll(async () => {
  server = await startTestServer()
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

interface PublishBody {
  notification: Notification
  userId: string
}
interface ErrorBody {
  error: { code: string; message: string }
}

const base = { type: 'order.shipped', title: 'Shipped', message: 'Your order is on its way' }

async function expectError(response: Response, status: number, code: string): Promise<ErrorBody> {
  expect(response.status).toBe(status)
  const body = (await response.json()) as ErrorBody
  expect(body).toEqual({ error: { code, message: expect.any(String) } })
  expect(body.error.message.length).toBeGreaterThan(0)
  return body
}

/** Rows in the tables a publish writes, to show a refused request wrote nothing. */
async function rowCounts() {
  const db = server.database.db
  const [[u], [n]] = await Promise.all([
    db.select({ n: count() }).from(users),
    db.select({ n: count() }).from(notifications),
  ])
  return { users: u!.n, notifications: n!.n }
}

const post = (path: string, body: unknown, headers: Record<string, string> = bearer(ADMIN_KEY)) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })

describe('POST /api/admin/notifications', () => {
  test('by userId: 201 {notification, userId}, stored and listed for that user', async () => {
    const session = await signIn(server.url)
    const response = await server.publish({ userId: session.user.id, ...base, data: { orderId: 'A-1' } })
    expect(response.status).toBe(201)
    const body = (await response.json()) as PublishBody
    expect(Object.keys(body).sort()).toEqual(['notification', 'userId'])
    expect(body.userId).toBe(session.user.id)
    expect(body.notification).toEqual({
      id: expect.stringMatching(/^[1-9][0-9]*$/),
      seq: 1,
      ...base,
      data: { orderId: 'A-1' },
      createdAt: expect.any(String),
      read: false,
      seen: false,
      archived: false,
      critical: false,
    })
    expect(new Date(body.notification.createdAt).toISOString()).toBe(body.notification.createdAt)

    const listed = await fetch(`${server.url}/api/notifications`, { headers: bearer(session.token) })
    const page = (await listed.json()) as { notifications: Notification[] }
    expect(page.notifications).toEqual([body.notification])
  })

  test('by a lowercase address: creates the user and answers its userId; every other spelling is the same user', async () => {
    const account = newAccount()
    const before = await rowCounts()
    const first = await server.publish({ address: account.address.toLowerCase(), ...base })
    expect(first.status).toBe(201)
    const firstBody = (await first.json()) as PublishBody
    expect(firstBody.userId).toMatch(/^[1-9][0-9]*$/)
    expect(firstBody.notification.seq).toBe(1)
    expect(await rowCounts()).toEqual({ users: before.users + 1, notifications: before.notifications + 1 })

    const upper = `0x${account.address.slice(2).toUpperCase()}`
    for (const [i, address] of [
      getAddress(account.address),
      upper,
      account.address.toLowerCase(),
    ].entries()) {
      const response = await server.publish({ address, ...base })
      expect(response.status).toBe(201)
      const body = (await response.json()) as PublishBody
      expect(body.userId).toBe(firstBody.userId)
      expect(body.notification.seq).toBe(i + 2)
    }
    expect((await rowCounts()).users).toBe(before.users + 1)

    // The notifications wait for the first sign-in, which finds the same user.
    const session = await signIn(server.url, account)
    expect(session.user).toEqual({ id: firstBody.userId, address: getAddress(account.address) })
    const listed = await fetch(`${server.url}/api/notifications`, { headers: bearer(session.token) })
    const page = (await listed.json()) as { notifications: Notification[]; unreadCount: number }
    expect(page.notifications.map((n) => n.seq)).toEqual([4, 3, 2, 1])
    expect(page.unreadCount).toBe(4)
  })

  test('by the address of a user who already signed in: that user', async () => {
    const session = await signIn(server.url)
    const response = await server.publish({ address: session.user.address.toLowerCase(), ...base })
    expect(response.status).toBe(201)
    expect(((await response.json()) as PublishBody).userId).toBe(session.user.id)
  })

  test('both userId and address, or neither → 422 INVALID_INPUT, nothing written', async () => {
    const session = await signIn(server.url)
    const before = await rowCounts()
    const both = await server.publish({ userId: session.user.id, address: newAccount().address, ...base })
    const bothBody = await expectError(both, 422, 'INVALID_INPUT')
    expect(bothBody.error.message).toContain('userId')
    expect(bothBody.error.message).toContain('address')
    const neither = await server.publish({ ...base })
    await expectError(neither, 422, 'INVALID_INPUT')
    expect(await rowCounts()).toEqual(before)
  })

  test('unknown userId → 404 NOT_FOUND, nothing written', async () => {
    const before = await rowCounts()
    const response = await server.publish({ userId: '987654321', ...base })
    await expectError(response, 404, 'NOT_FOUND')
    expect(await rowCounts()).toEqual(before)
  })

  test('malformed recipients and fields → 422 INVALID_INPUT naming the field, nothing written', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    const before = await rowCounts()
    const cases: [Record<string, unknown>, string][] = [
      [{ userId: 'abc', ...base }, 'userId'],
      [{ userId: '0', ...base }, 'userId'],
      [{ userId: Number(userId), ...base }, 'userId'],
      [{ address: '0x1234', ...base }, 'address'],
      [{ address: `${session.user.address}00`, ...base }, 'address'],
      [{ address: 'not an address at all, not at all!!!!!!!!!', ...base }, 'address'],
      [{ userId, title: 't', message: 'm' }, 'type'],
      [{ userId, ...base, type: '' }, 'type'],
      [{ userId, ...base, type: 'x'.repeat(101) }, 'type'],
      [{ userId, ...base, title: 5 }, 'title'],
      [{ userId, type: 't', message: 'm' }, 'title'],
      [{ userId, ...base, message: null }, 'message'],
      [{ userId, ...base, message: ['a'] }, 'message'],
    ]
    for (const [body, field] of cases) {
      const response = await server.publish(body)
      const error = await expectError(response, 422, 'INVALID_INPUT')
      expect(error.error.message).toContain(field)
    }
    expect(await rowCounts()).toEqual(before)
  })

  test('seq keeps counting per user across publishes by id and by address', async () => {
    const session = await signIn(server.url)
    const seqs: number[] = []
    for (const recipient of [
      { userId: session.user.id },
      { address: session.user.address },
      { userId: session.user.id },
    ]) {
      const response = await server.publish({ ...recipient, ...base })
      seqs.push(((await response.json()) as PublishBody).notification.seq)
    }
    expect(seqs).toEqual([1, 2, 3])
  })
})

describe('admin key', () => {
  const wrongHeaders: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['a wrong key', bearer('test-admin-key-0123456788')],
    ['the key with a suffix', bearer(`${ADMIN_KEY}x`)],
    ['a prefix of the key', bearer(ADMIN_KEY.slice(0, -1))],
    ['the key in another case', bearer(ADMIN_KEY.toUpperCase())],
    ['the key without the Bearer scheme', { authorization: ADMIN_KEY }],
    ['the key with the Basic scheme', { authorization: `Basic ${ADMIN_KEY}` }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
  ]

  test('missing or wrong → 401 UNAUTHORIZED on both routes, nothing written or sent', async () => {
    const session = await signIn(server.url)
    const socket = connectSocket(server.wsUrl)
    await socket.next('connected')
    const before = await rowCounts()
    const cases = [...wrongHeaders, ['a user session token', bearer(session.token)] as const]
    for (const [, headers] of cases) {
      await expectError(
        await post('/api/admin/notifications', { userId: session.user.id, ...base }, headers),
        401,
        'UNAUTHORIZED',
      )
      await expectError(
        await post('/api/admin/broadcast', { message: { type: 'nope' } }, headers),
        401,
        'UNAUTHORIZED',
      )
    }
    expect(await rowCounts()).toEqual(before)
    // A broadcast that did go through arrives first: nothing from the refused ones was sent.
    expect((await server.broadcast({ type: 'marker' })).status).toBe(202)
    expect((await socket.next()).type).toBe('marker')
    socket.close()
  })

  test('the key is checked before the body: a bad body with a wrong key is 401, not 422', async () => {
    await expectError(await post('/api/admin/notifications', { nonsense: true }, {}), 401, 'UNAUTHORIZED')
  })

  test('without HERALD_ADMIN_KEY both routes answer 404 NOT_FOUND, whatever is presented', async () => {
    const keyless = await startTestServer(
      { HERALD_ADMIN_KEY: '' },
      { database: server.database, keepDatabase: true },
    )
    try {
      const session = await signIn(keyless.url)
      const before = await rowCounts()
      // Exactly the answer of a route that does not exist at all.
      const unknown = await fetch(`${keyless.url}/api/admin/nothing-here`, {
        method: 'POST',
        headers: bearer(ADMIN_KEY),
      })
      await expectError(unknown.clone(), 404, 'NOT_FOUND')
      const notFound = await unknown.json()
      for (const headers of [bearer(ADMIN_KEY), {}, bearer(session.token), bearer('')]) {
        for (const [path, body] of [
          ['/api/admin/notifications', { userId: session.user.id, ...base }],
          ['/api/admin/broadcast', { message: { type: 'x' } }],
        ] as const) {
          const response = await fetch(`${keyless.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: JSON.stringify(body),
          })
          await expectError(response.clone(), 404, 'NOT_FOUND')
          expect(await response.json()).toEqual(notFound)
        }
      }
      // An invalid or malformed body does not reveal the routes either.
      for (const path of ['/api/admin/notifications', '/api/admin/broadcast']) {
        for (const raw of ['{}', '{"message":5}', '{not json', '']) {
          const response = await fetch(`${keyless.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...bearer(ADMIN_KEY) },
            body: raw,
          })
          await expectError(response.clone(), 404, 'NOT_FOUND')
          expect(await response.json()).toEqual(notFound)
        }
      }
      expect(await rowCounts()).toEqual(before)
      // The rest of that server works.
      const me = await fetch(`${keyless.url}/api/me`, { headers: bearer(session.token) })
      expect(me.status).toBe(200)
    } finally {
      await keyless.stop()
    }
  }, 30_000)
})

describe('POST /api/admin/broadcast', () => {
  test('202 {delivered: n}; the message arrives unwrapped on every open connection', async () => {
    const session = await signIn(server.url)
    const anonymous = connectSocket(server.wsUrl)
    const signedIn = connectSocket(server.wsUrl)
    await anonymous.next('connected')
    await signedIn.next('connected')
    signedIn.send({ type: 'auth', token: session.token })
    await signedIn.next('authenticated')

    const message = { type: 'announcement', text: 'maintenance at 5', extra: { list: [1, 2], flag: true } }
    const response = await server.broadcast(message)
    expect(response.status).toBe(202)
    expect(await response.json()).toEqual({ delivered: server.herald.connectionCount })
    expect(await anonymous.next('announcement')).toEqual(message)
    expect(await signedIn.next('announcement')).toEqual(message)
    anonymous.close()
    signedIn.close()
  })

  test('message must be an object with a non-empty string type → 422 INVALID_INPUT otherwise, nothing sent', async () => {
    const socket = connectSocket(server.wsUrl)
    await socket.next('connected')
    const bodies: unknown[] = [
      {},
      { message: null },
      { message: 'hello' },
      { message: 42 },
      { message: [{ type: 'x' }] },
      { message: {} },
      { message: { text: 'no type' } },
      { message: { type: 5 } },
      { message: { type: null } },
      { message: { type: ['x'] } },
      { message: { type: '' } },
    ]
    for (const body of bodies) {
      const error = await expectError(await post('/api/admin/broadcast', body), 422, 'INVALID_INPUT')
      expect(error.error.message).toContain('message')
    }
    expect((await server.broadcast({ type: 'marker' })).status).toBe(202)
    expect((await socket.next()).type).toBe('marker')
    socket.close()
  })
})
