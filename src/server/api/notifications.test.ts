import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { getAddress } from 'viem'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, newAccount, type Session, signIn } from '../../../test/helpers/wallet'
import type { Notification } from '../../shared/protocol'

// The notification routes of the contract (§1 "Notifications"), over real HTTP against a real server.

let server: TestServer
// Starting a server on a fresh PGlite takes seconds on a busy machine: more than the default hook timeout.
beforeAll(async () => {
  server = await startTestServer()
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

interface ListBody {
  notifications: Notification[]
  nextBefore: number | null
  unreadCount: number
  unseenCount: number
}
interface ErrorBody {
  error: { code: string; message: string }
}

const NOTIFICATION_KEYS = [
  'archived',
  'createdAt',
  'critical',
  'data',
  'id',
  'message',
  'read',
  'seen',
  'seq',
  'title',
  'type',
]

/** Exactly the contract's fields, with the contract's types. */
function expectNotification(value: unknown): asserts value is Notification {
  expect(value).toBeObject()
  const n = value as Record<string, unknown>
  expect(Object.keys(n).sort()).toEqual(NOTIFICATION_KEYS)
  expect(n.id).toBeString()
  expect(n.id as string).toMatch(/^[1-9][0-9]*$/)
  expect(Number.isInteger(n.seq)).toBe(true)
  expect(n.seq as number).toBeGreaterThanOrEqual(1)
  expect(n.type).toBeString()
  expect(n.title).toBeString()
  expect(n.message).toBeString()
  expect(n.data === null || n.data !== undefined).toBe(true)
  expect(n.createdAt).toBeString()
  // ISO-8601 UTC, exactly as Date renders it.
  expect(new Date(n.createdAt as string).toISOString()).toBe(n.createdAt as string)
  expect(n.read).toBeBoolean()
}

function expectError(body: unknown, code: string) {
  expect(body).toEqual({ error: { code, message: expect.any(String) } })
  expect((body as ErrorBody).error.message.length).toBeGreaterThan(0)
}

async function api<T>(session: Session | null, path: string, method = 'GET') {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: session ? bearer(session.token) : {},
  })
  return { status: response.status, body: (await response.json()) as T }
}

const list = (session: Session, query = '') => api<ListBody>(session, `/api/notifications${query}`)
const unreadCount = (session: Session) =>
  api<{ unreadCount: number; unseenCount: number; seq: number; version: number }>(
    session,
    '/api/notifications/unread-count',
  )
const markRead = (session: Session, id: string) =>
  api<{ notification: Notification; unreadCount: number }>(session, `/api/notifications/${id}/read`, 'POST')
const readAll = (session: Session) =>
  api<{ updated: number; unreadCount: number }>(session, '/api/notifications/read-all', 'POST')

/** Publishes `count` notifications in order; the i-th (1-based) has title `#i`. */
async function publishMany(userId: string, count: number, extra: Record<string, unknown> = {}) {
  const created: Notification[] = []
  for (let i = 1; i <= count; i++) {
    const response = await server.publish({
      userId,
      type: 'test',
      title: `#${i}`,
      message: `m${i}`,
      ...extra,
    })
    expect(response.status).toBe(201)
    created.push(((await response.json()) as { notification: Notification }).notification)
  }
  return created
}

/** Walks every page with `limit` (and extra query), returning each page's body. */
async function walk(session: Session, limit: number, extra = '') {
  const pages: ListBody[] = []
  let before: number | null = null
  for (let guard = 0; guard < 100; guard++) {
    const query: string = `?limit=${limit}${before === null ? '' : `&before=${before}`}${extra}`
    const { status, body } = await list(session, query)
    expect(status).toBe(200)
    pages.push(body)
    if (body.nextBefore === null) return pages
    before = body.nextBefore
  }
  throw new Error('pagination did not end')
}

describe('GET /api/notifications: newest first, paged with before', () => {
  let alice: Session
  beforeAll(async () => {
    alice = await signIn(server.url)
    await publishMany(alice.user.id, 45)
  })

  test('limit=10 walks 45 notifications in 5 pages, none repeated or skipped, nextBefore null at the end', async () => {
    const pages = await walk(alice, 10)
    expect(pages.map((p) => p.notifications.length)).toEqual([10, 10, 10, 10, 5])
    expect(pages.map((p) => p.nextBefore)).toEqual([36, 26, 16, 6, null])
    const seqs = pages.flatMap((p) => p.notifications.map((n) => n.seq))
    expect(seqs).toEqual(Array.from({ length: 45 }, (_, i) => 45 - i))
    // seq i is the i-th published one: commit order, no gaps.
    for (const n of pages.flatMap((p) => p.notifications)) expect(n.title).toBe(`#${n.seq}`)
    const ids = pages.flatMap((p) => p.notifications.map((n) => n.id))
    expect(new Set(ids).size).toBe(45)
    for (const page of pages) {
      expect(page.unreadCount).toBe(45)
      // nextBefore is the last (oldest) seq on the page.
      if (page.nextBefore !== null) expect(page.nextBefore).toBe(page.notifications.at(-1)!.seq)
    }
  })

  test('a limit that divides the total exactly still ends with nextBefore null and no empty page', async () => {
    const pages = await walk(alice, 15)
    expect(pages.map((p) => p.notifications.length)).toEqual([15, 15, 15])
    expect(pages.at(-1)!.nextBefore).toBeNull()
    expect(pages.flatMap((p) => p.notifications.map((n) => n.seq))).toEqual(
      Array.from({ length: 45 }, (_, i) => 45 - i),
    )
  })

  test('limit=1 and limit=100 (the bounds) work; the default page is 20', async () => {
    const one = await list(alice, '?limit=1')
    expect(one.status).toBe(200)
    expect(one.body.notifications.map((n) => n.seq)).toEqual([45])
    expect(one.body.nextBefore).toBe(45)

    const all = await list(alice, '?limit=100')
    expect(all.body.notifications).toHaveLength(45)
    expect(all.body.nextBefore).toBeNull()

    const byDefault = await list(alice)
    expect(byDefault.status).toBe(200)
    expect(byDefault.body.notifications.map((n) => n.seq)).toEqual(
      Array.from({ length: 20 }, (_, i) => 45 - i),
    )
    expect(byDefault.body.nextBefore).toBe(26)
  })

  test('before is exclusive; beyond the newest starts at the newest; before=1 is empty', async () => {
    const mid = await list(alice, '?limit=3&before=10')
    expect(mid.body.notifications.map((n) => n.seq)).toEqual([9, 8, 7])
    expect(mid.body.nextBefore).toBe(7)

    const beyond = await list(alice, '?limit=2&before=1000')
    expect(beyond.body.notifications.map((n) => n.seq)).toEqual([45, 44])

    const tail = await list(alice, '?limit=5&before=3')
    expect(tail.body.notifications.map((n) => n.seq)).toEqual([2, 1])
    expect(tail.body.nextBefore).toBeNull()

    const empty = await list(alice, '?before=1')
    expect(empty.status).toBe(200)
    expect(empty.body).toEqual({ notifications: [], nextBefore: null, unreadCount: 45, unseenCount: 45 })
  })

  test('the response has exactly notifications, nextBefore and unreadCount, and each item the contract fields', async () => {
    const { body } = await list(alice, '?limit=5')
    expect(Object.keys(body).sort()).toEqual(['nextBefore', 'notifications', 'unreadCount', 'unseenCount'])
    for (const n of body.notifications) {
      expectNotification(n)
      expect(n.type).toBe('test')
      expect(n.message).toBe(`m${n.seq}`)
      expect(n.data).toBeNull()
      expect(n.read).toBe(false)
    }
  })

  test('a user with no notifications gets an empty first page', async () => {
    const nobody = await signIn(server.url)
    const { status, body } = await list(nobody)
    expect(status).toBe(200)
    expect(body).toEqual({ notifications: [], nextBefore: null, unreadCount: 0, unseenCount: 0 })
  })

  test('each user only sees their own, and seq is per user (1, 2, 3 … for each)', async () => {
    const bob = await signIn(server.url)
    await publishMany(bob.user.id, 3)
    const { body } = await list(bob)
    expect(body.notifications.map((n) => n.seq)).toEqual([3, 2, 1])
    expect(body.unreadCount).toBe(3)
    const aliceIds = new Set((await list(alice, '?limit=100')).body.notifications.map((n) => n.id))
    for (const n of body.notifications) expect(aliceIds.has(n.id)).toBe(false)
  })
})

describe('unread filter and counts', () => {
  test('unread=true lists only unread ones, paged, and unreadCount follows reads', async () => {
    const carol = await signIn(server.url)
    const created = await publishMany(carol.user.id, 12)
    // Read every third one: seqs 3, 6, 9, 12.
    for (const n of created.filter((n) => n.seq % 3 === 0)) {
      expect((await markRead(carol, n.id)).status).toBe(200)
    }
    const unreadSeqs = [11, 10, 8, 7, 5, 4, 2, 1]

    const pages = await walk(carol, 5, '&unread=true')
    expect(pages.map((p) => p.notifications.length)).toEqual([5, 3])
    expect(pages.flatMap((p) => p.notifications.map((n) => n.seq))).toEqual(unreadSeqs)
    for (const page of pages) {
      expect(page.unreadCount).toBe(8)
      for (const n of page.notifications) expect(n.read).toBe(false)
    }
    expect(pages[0]!.nextBefore).toBe(5)

    // Without the filter (and with unread=false) every one is listed, read ones marked.
    for (const query of ['?limit=100', '?limit=100&unread=false']) {
      const { body } = await list(carol, query)
      expect(body.notifications.map((n) => n.seq)).toEqual(Array.from({ length: 12 }, (_, i) => 12 - i))
      for (const n of body.notifications) expect(n.read).toBe(n.seq % 3 === 0)
      expect(body.unreadCount).toBe(8)
    }
  })

  test('GET /api/notifications/unread-count answers exactly {unreadCount, unseenCount, seq, version}', async () => {
    const dave = await signIn(server.url)
    const empty = await unreadCount(dave)
    expect(empty.status).toBe(200)
    expect(empty.body).toEqual({ unreadCount: 0, unseenCount: 0, seq: 0, version: 0 })

    const created = await publishMany(dave.user.id, 3)
    expect((await unreadCount(dave)).body).toMatchObject({ unreadCount: 3, seq: 3 })

    await markRead(dave, created[0]!.id)
    expect((await unreadCount(dave)).body).toMatchObject({ unreadCount: 2, seq: 3 })

    await readAll(dave)
    expect((await unreadCount(dave)).body).toMatchObject({ unreadCount: 0, seq: 3 })

    await publishMany(dave.user.id, 1)
    expect((await unreadCount(dave)).body).toMatchObject({ unreadCount: 1, seq: 4 })
  })
})

describe('POST /api/notifications/:id/read', () => {
  test('marks one read, returns it with read true and the new unreadCount; again is idempotent', async () => {
    const erin = await signIn(server.url)
    const [first, second] = await publishMany(erin.user.id, 2, { data: { orderId: 7 } })

    const marked = await markRead(erin, first!.id)
    expect(marked.status).toBe(200)
    expect(Object.keys(marked.body).sort()).toEqual([
      'notification',
      'seq',
      'unreadCount',
      'unseenCount',
      'version',
    ])
    expectNotification(marked.body.notification)
    expect(marked.body.notification).toEqual({ ...first!, read: true, seen: true })
    expect(marked.body.unreadCount).toBe(1)

    const again = await markRead(erin, first!.id)
    expect(again.status).toBe(200)
    expect(again.body).toEqual(marked.body)

    const { body } = await list(erin)
    expect(body.notifications.map((n) => [n.id, n.read])).toEqual([
      [second!.id, false],
      [first!.id, true],
    ])
    expect(body.unreadCount).toBe(1)
  })

  test("another user's notification answers the same 404 NOT_FOUND as a missing id, and stays unread", async () => {
    const owner = await signIn(server.url)
    const intruder = await signIn(server.url)
    const [theirs] = await publishMany(owner.user.id, 1)
    const missingId = String(Number(theirs!.id) + 100_000)

    const foreign = await markRead(intruder, theirs!.id)
    const missing = await markRead(intruder, missingId)
    expect(foreign.status).toBe(404)
    expect(missing.status).toBe(404)
    expectError(foreign.body, 'NOT_FOUND')
    expectError(missing.body, 'NOT_FOUND')
    // Nothing tells the two apart but the id the caller sent.
    const redact = (body: unknown, id: string) => JSON.stringify(body).replaceAll(id, '<id>')
    expect(redact(foreign.body, theirs!.id)).toBe(redact(missing.body, missingId))

    expect((await unreadCount(owner)).body).toMatchObject({ unreadCount: 1, seq: 1 })
    expect((await list(owner)).body.notifications[0]!.read).toBe(false)
  })
})

describe('POST /api/notifications/read-all', () => {
  test('marks every unread one read and answers {updated, unreadCount: 0}; again updates 0', async () => {
    const frank = await signIn(server.url)
    const bystander = await signIn(server.url)
    const created = await publishMany(frank.user.id, 5)
    await publishMany(bystander.user.id, 2)
    await markRead(frank, created[1]!.id)

    const first = await readAll(frank)
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ updated: 4, unreadCount: 0, upToSeq: 5 })

    const second = await readAll(frank)
    expect(second.body).toMatchObject({ updated: 0, unreadCount: 0 })

    const { body } = await list(frank)
    expect(body.unreadCount).toBe(0)
    for (const n of body.notifications) expect(n.read).toBe(true)
    expect((await list(frank, '?unread=true')).body.notifications).toEqual([])

    // Someone else's are untouched.
    expect((await unreadCount(bystander)).body).toMatchObject({ unreadCount: 2, seq: 2 })
  })

  test('with nothing at all it answers {updated: 0, unreadCount: 0}', async () => {
    const grace = await signIn(server.url)
    const { status, body } = await readAll(grace)
    expect(status).toBe(200)
    expect(body).toMatchObject({ updated: 0, unreadCount: 0 })
  })
})

describe('Notification objects', () => {
  test('data is null when absent or null, and any other JSON value round-trips unchanged', async () => {
    const heidi = await signIn(server.url)
    const values: unknown[] = [{ nested: { list: [1, 'two', null, true], n: 1.5 } }, [], 'text', 0, false, '']
    const publish = async (extra: Record<string, unknown>) => {
      const response = await server.publish({
        userId: heidi.user.id,
        type: 't',
        title: 'x',
        message: 'y',
        ...extra,
      })
      expect(response.status).toBe(201)
      const { notification } = (await response.json()) as { notification: Notification }
      expectNotification(notification)
      return notification
    }
    expect((await publish({})).data).toBeNull()
    expect((await publish({ data: null })).data).toBeNull()
    for (const value of values) expect((await publish({ data: value })).data).toEqual(value)

    const { body } = await list(heidi, '?limit=100')
    const listed = body.notifications.map((n) => n.data).reverse()
    expect(listed).toEqual([null, null, ...values])
  })

  test('strings are stored exactly (unicode, quotes, long text)', async () => {
    const ivan = await signIn(server.url)
    const title = "Ünïcødé “quotes” 'single' <b>html</b> 🎉"
    const message = `line 1\nline 2\t${'x'.repeat(5000)}`
    const response = await server.publish({ userId: ivan.user.id, type: 'a.b-c_d', title, message })
    expect(response.status).toBe(201)
    const { body } = await list(ivan)
    expect(body.notifications[0]).toMatchObject({ type: 'a.b-c_d', title, message })
  })

  test('createdAt is the time of storing, as ISO-8601 UTC', async () => {
    const judy = await signIn(server.url)
    const before = Date.now()
    const [n] = await publishMany(judy.user.id, 1)
    const after = Date.now()
    expect(n!.createdAt.endsWith('Z')).toBe(true)
    const at = Date.parse(n!.createdAt)
    expect(at).toBeGreaterThanOrEqual(before - 2000)
    expect(at).toBeLessThanOrEqual(after + 2000)
  })
})

describe('addresses are EIP-55 checksummed on output', () => {
  test('sign-in and /api/me answer the checksummed address', async () => {
    // About one random address in sixteen or more checksums to all lower case, which would prove nothing.
    let account = newAccount()
    while (getAddress(account.address) === account.address.toLowerCase()) account = newAccount()
    const session = await signIn(server.url, account)
    expect(session.user.address).toBe(getAddress(account.address))
    const me = await api<{ id: string; address: string }>(session, '/api/me')
    expect(me.body).toEqual({ id: session.user.id, address: getAddress(account.address) })
    expect(me.body.address).not.toBe(account.address.toLowerCase())
  })

  test('a user first seen through a lowercase address signs in with the checksummed one and finds what waited', async () => {
    const account = newAccount()
    const response = await server.publish({
      address: account.address.toLowerCase(),
      type: 'welcome',
      title: 'Waiting',
      message: 'for you',
    })
    expect(response.status).toBe(201)
    const { userId } = (await response.json()) as { userId: string }
    const session = await signIn(server.url, account)
    expect(session.user).toEqual({ id: userId, address: getAddress(account.address) })
    const { body } = await list(session)
    expect(body.notifications.map((n) => n.title)).toEqual(['Waiting'])
    expect(body.unreadCount).toBe(1)
  })
})

describe('authentication', () => {
  const routes: [string, string][] = [
    ['GET', '/api/notifications'],
    ['GET', '/api/notifications/unread-count'],
    ['POST', '/api/notifications/1/read'],
    ['POST', '/api/notifications/read-all'],
  ]

  test('every route answers 401 UNAUTHORIZED without a token, with a bad one, or with a non-Bearer scheme', async () => {
    const session = await signIn(server.url)
    const headerSets: Record<string, string>[] = [
      {},
      { authorization: 'Bearer not-a-jwt' },
      { authorization: `Bearer ${session.token}x` },
      { authorization: `Basic ${session.token}` },
      { authorization: 'Bearer' },
    ]
    for (const [method, path] of routes) {
      for (const headers of headerSets) {
        const response = await fetch(`${server.url}${path}`, { method, headers })
        expect(response.status).toBe(401)
        expectError(await response.json(), 'UNAUTHORIZED')
      }
    }
  })
})
