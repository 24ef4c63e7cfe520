import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { metricValue } from '../../../test/helpers/metrics'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { until } from '../../../test/helpers/until'
import { bearer, newAccount, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { createInProcessBus } from '../bus/createInProcessBus'
import { createNotificationStore } from '../notifications/createNotificationStore'

// Delivery to the right connections, read-state pushes, connection and message limits, and seq order under
// concurrency: all against a real server on a real database, through real sockets.

type NotificationFrame = { type: 'notification'; notification: Notification }
type ErrorFrame = { type: 'error'; code: string; message: string }
type PublishBody = { notification: Notification; userId: string }

const seqsOf = (socket: TestSocket) =>
  socket.messages
    .filter((m): m is NotificationFrame => m.type === 'notification')
    .map((m) => m.notification.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function publishTo(server: TestServer, userId: string, n: number): Promise<Notification> {
  const res = await server.publish({ userId, type: 'test', title: `Title ${n}`, message: `Message ${n}` })
  expect(res.status).toBe(201)
  return ((await res.json()) as PublishBody).notification
}

let markers = 0
/**
 * Broadcasts a unique marker and waits for it on every socket. Frames to one socket arrive in the order the
 * server sent them, so anything meant for a socket before this call has arrived once the marker has.
 */
async function settle(server: TestServer, sockets: TestSocket[]): Promise<void> {
  const id = ++markers
  const res = await server.broadcast({ type: 'marker', id })
  expect(res.status).toBe(202)
  await Promise.all(sockets.map((s) => s.next((m) => m.type === 'marker' && m.id === id)))
}

async function closeAll(sockets: TestSocket[]): Promise<void> {
  for (const s of sockets) s.close()
  await Promise.all(sockets.map((s) => s.closed))
}

describe('delivery', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  }, 30_000)
  afterAll(async () => {
    await server.stop()
  }, 30_000)

  test('connected comes first, with a connection id and a timestamp; ping answers pong', async () => {
    const before = Date.now()
    const first = connectSocket(server.wsUrl)
    const second = connectSocket(server.wsUrl)
    const [c1, c2] = await Promise.all([first.next('connected'), second.next('connected')])
    for (const [socket, connected] of [
      [first, c1],
      [second, c2],
    ] as const) {
      expect(socket.messages[0]).toBe(connected)
      expect(Object.keys(connected).sort()).toEqual(['connectionId', 'timestamp', 'type'])
      const { connectionId, timestamp } = connected as { connectionId: string; timestamp: string }
      expect(typeof connectionId).toBe('string')
      expect(connectionId.length).toBeGreaterThan(0)
      expect(timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
      expect(Date.parse(timestamp)).toBeGreaterThanOrEqual(before - 1000)
      expect(Date.parse(timestamp)).toBeLessThanOrEqual(Date.now() + 1000)
    }
    expect((c1 as { connectionId: string }).connectionId).not.toBe(
      (c2 as { connectionId: string }).connectionId,
    )

    first.send({ type: 'ping' })
    expect(await first.next()).toEqual({ type: 'pong' })
    // Authenticated connections answer pings too.
    const session = await signIn(server.url)
    const authed = await connectAuthenticated(server.wsUrl, session.token)
    authed.send({ type: 'ping' })
    authed.send({ type: 'ping' })
    expect(await authed.next()).toEqual({ type: 'pong' })
    expect(await authed.next()).toEqual({ type: 'pong' })
    await closeAll([first, second, authed])
    await until(
      'the server to drop the sockets',
      () => server.herald.connectionCount === 0 || undefined,
      3000,
      5,
    )
  })

  test("a user's notification reaches all of that user's connections and no one else; broadcasts reach all", async () => {
    const [a, b] = await Promise.all([signIn(server.url), signIn(server.url)])
    const aSockets = await Promise.all([1, 2, 3].map(() => connectAuthenticated(server.wsUrl, a.token)))
    const bSocket = await connectAuthenticated(server.wsUrl, b.token)
    const anon = connectSocket(server.wsUrl)
    await anon.next('connected')
    const everyone = [...aSockets, bSocket, anon]
    expect(server.herald.getUserConnectionCount(a.user.id)).toBe(3)

    const res = await server.publish({
      userId: a.user.id,
      type: 'greeting',
      title: 'Hello A',
      message: 'Only for A',
      data: { nested: { list: [1, 'two'] } },
    })
    expect(res.status).toBe(201)
    const body = (await res.json()) as PublishBody
    expect(body.userId).toBe(a.user.id)
    expect(body.notification).toMatchObject({
      seq: 1,
      type: 'greeting',
      title: 'Hello A',
      message: 'Only for A',
      data: { nested: { list: [1, 'two'] } },
      read: false,
      seen: false,
      archived: false,
      critical: false,
    })
    expect(body.notification.id).toMatch(/^\d+$/)
    expect(Number.isNaN(Date.parse(body.notification.createdAt))).toBe(false)

    for (const socket of aSockets) {
      const frame = await socket.next<NotificationFrame>('notification')
      expect(frame).toEqual({ type: 'notification', notification: body.notification })
    }

    // A marker broadcast sent after the notification: once it arrives, B and the anonymous socket would
    // already hold the notification if it had been sent to them.
    const broadcast = await server.broadcast({ type: 'marker', id: 'after-a', payload: { x: [1, 2, 3] } })
    expect(broadcast.status).toBe(202)
    expect(await broadcast.json()).toEqual({ delivered: 5 })
    for (const socket of everyone) {
      // Unwrapped: exactly the object that was posted.
      expect(await socket.next((m) => m.type === 'marker')).toEqual({
        type: 'marker',
        id: 'after-a',
        payload: { x: [1, 2, 3] },
      })
    }
    for (const socket of aSockets) expect(seqsOf(socket)).toEqual([1])
    expect(seqsOf(bSocket)).toEqual([])
    expect(seqsOf(anon)).toEqual([])

    // And the other way round: B's notification reaches B only, with B's own seq.
    const forB = await publishTo(server, b.user.id, 1)
    expect(forB.seq).toBe(1)
    expect((await bSocket.next<NotificationFrame>('notification')).notification).toEqual(forB)
    await settle(server, everyone)
    for (const socket of aSockets) expect(seqsOf(socket)).toEqual([1])
    expect(seqsOf(anon)).toEqual([])

    // A socket that closed gets nothing and the others still get everything.
    aSockets[0]!.close()
    await aSockets[0]!.closed
    await until(
      'the close',
      () => server.herald.getUserConnectionCount(a.user.id) === 2 || undefined,
      3000,
      5,
    )
    const second = await publishTo(server, a.user.id, 2)
    for (const socket of aSockets.slice(1)) {
      expect((await socket.next<NotificationFrame>('notification')).notification).toEqual(second)
    }
    const after = await server.broadcast({ type: 'marker', id: 'four-left' })
    expect(await after.json()).toEqual({ delivered: 4 })
    await closeAll(everyone)
    await until(
      'the server to drop the sockets',
      () => server.herald.connectionCount === 0 || undefined,
      3000,
      5,
    )
  })

  test('a notification for an address that never signed in waits for its first sign-in', async () => {
    const account = newAccount()
    const res = await server.publish({
      // Any case on input.
      address: account.address.toLowerCase(),
      type: 'welcome',
      title: 'Waiting for you',
      message: 'Sent before the first sign-in',
    })
    expect(res.status).toBe(201)
    const body = (await res.json()) as PublishBody
    expect(body.userId).toMatch(/^\d+$/)
    expect(body.notification.seq).toBe(1)

    const session = await signIn(server.url, account)
    expect(session.user).toEqual({ id: body.userId, address: account.address })
    const socket = connectSocket(server.wsUrl)
    await socket.next('connected')
    socket.send({ type: 'auth', token: session.token })
    expect(await socket.next('authenticated')).toMatchObject({
      userId: body.userId,
      address: account.address,
    })
    // Nothing is pushed on its own: the stored one comes with resume.
    await settle(server, [socket])
    expect(seqsOf(socket)).toEqual([])
    socket.send({ type: 'resume', since: 0 })
    const replayed = await socket.next<NotificationFrame>('notification')
    expect(replayed.notification).toEqual(body.notification)
    expect(await socket.next()).toEqual({ type: 'resumed', since: 0, replayed: 1, seq: 1 })

    // The same user by address or by id afterwards: seqs go on.
    const again = await server.publish({ address: account.address, type: 't', title: 'Again', message: 'm' })
    expect(((await again.json()) as PublishBody).notification.seq).toBe(2)
    expect((await socket.next<NotificationFrame>('notification')).notification.seq).toBe(2)
    await closeAll([socket])
  })

  test('read state is pushed to every connection of the user and to no one else', async () => {
    const [a, b] = await Promise.all([signIn(server.url), signIn(server.url)])
    const aSockets = await Promise.all([1, 2].map(() => connectAuthenticated(server.wsUrl, a.token)))
    const bSocket = await connectAuthenticated(server.wsUrl, b.token)
    const everyone = [...aSockets, bSocket]
    const created: Notification[] = []
    for (let i = 1; i <= 3; i++) created.push(await publishTo(server, a.user.id, i))
    const forB = await publishTo(server, b.user.id, 1)
    for (const socket of aSockets) await socket.collect('notification', 3)
    await bSocket.collect('notification', 1)

    const markRead = (token: string, id: string) =>
      fetch(`${server.url}/api/notifications/${id}/read`, { method: 'POST', headers: bearer(token) })

    const target = created[1]!
    const res = await markRead(a.token, target.id)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { notification: Notification; unreadCount: number }
    expect(body.unreadCount).toBe(2)
    expect(body.notification).toMatchObject({ id: target.id, seq: target.seq, read: true })
    for (const socket of aSockets) {
      expect(await socket.next('read_state')).toEqual({
        type: 'read_state',
        ids: [target.id],
        unreadCount: 2,
        unseenCount: 2,
        seq: 3,
        version: 1,
      })
    }

    // B cannot mark A's notification (404, as if it did not exist), and nothing is pushed for it.
    const foreign = await markRead(b.token, created[0]!.id)
    expect(foreign.status).toBe(404)
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')

    const all = await fetch(`${server.url}/api/notifications/read-all`, {
      method: 'POST',
      headers: bearer(a.token),
    })
    expect(all.status).toBe(200)
    expect(await all.json()).toEqual({
      updated: 2,
      upToSeq: 3,
      unreadCount: 0,
      unseenCount: 0,
      seq: 3,
      version: 2,
    })
    for (const socket of aSockets) {
      expect(await socket.next('read_state')).toEqual({
        type: 'read_state',
        ids: 'all',
        upToSeq: 3,
        unreadCount: 0,
        unseenCount: 0,
        seq: 3,
        version: 2,
      })
    }

    await settle(server, everyone)
    expect(bSocket.messages.filter((m) => m.type === 'read_state')).toEqual([])
    for (const socket of aSockets)
      expect(socket.messages.filter((m) => m.type === 'read_state')).toHaveLength(2)
    // B's own state is untouched.
    const unread = await fetch(`${server.url}/api/notifications/unread-count`, { headers: bearer(b.token) })
    expect(await unread.json()).toEqual({ unreadCount: 1, unseenCount: 1, seq: forB.seq, version: 0 })
    await closeAll(everyone)
  })

  test('200 notifications created concurrently arrive on every connection once each, in seq order', async () => {
    const session = await signIn(server.url)
    const sockets = await Promise.all([1, 2].map(() => connectAuthenticated(server.wsUrl, session.token)))
    const N = 200
    const responses = await Promise.all(
      range(1, N).map(async (i) => {
        const res = await server.publish({
          userId: session.user.id,
          type: 'burst',
          title: `#${i}`,
          message: 'm',
        })
        expect(res.status).toBe(201)
        return ((await res.json()) as PublishBody).notification
      }),
    )
    // Seqs handed out over HTTP: exactly 1..N, no gap, no repeat.
    expect(responses.map((n) => n.seq).sort((x, y) => x - y)).toEqual(range(1, N))
    const bySeq = new Map(responses.map((n) => [n.seq, n]))
    for (const socket of sockets) {
      const frames = await socket.collect<NotificationFrame>('notification', N, 15_000)
      expect(frames.map((f) => f.notification.seq)).toEqual(range(1, N))
      for (const frame of frames) expect(frame.notification).toEqual(bySeq.get(frame.notification.seq)!)
    }
    // Nothing more trickles in afterwards (no late duplicate from a gap fill).
    await Bun.sleep(50)
    await settle(server, sockets)
    for (const socket of sockets) expect(seqsOf(socket)).toEqual(range(1, N))
    await closeAll(sockets)
  }, 20_000)

  test('a seq whose bus event never came is read from the database; later ones wait for it, in order', async () => {
    const session = await signIn(server.url)
    const sockets = await Promise.all([1, 2].map(() => connectAuthenticated(server.wsUrl, session.token)))
    const first = await publishTo(server, session.user.id, 1)
    // Stored and committed, but never announced (its store's bus has no listener): what a lost bus message
    // looks like to the hub.
    const unheard = createNotificationStore({ db: server.database.db, bus: createInProcessBus(() => {}) })
    const silent = await unheard.create({
      userId: session.user.id,
      type: 'silent',
      title: 'No event',
      message: 'm',
    })
    expect(silent.seq).toBe(2)
    const third = await publishTo(server, session.user.id, 3)
    const fourth = await publishTo(server, session.user.id, 4)
    for (const socket of sockets) {
      const frames = await socket.collect<NotificationFrame>('notification', 4, 5000)
      expect(frames.map((f) => f.notification)).toEqual([first, silent, third, fourth])
    }
    await settle(server, sockets)
    for (const socket of sockets) expect(seqsOf(socket)).toEqual([1, 2, 3, 4])
    await closeAll(sockets)
  })
})

describe('connection limits', () => {
  test('MAX_CONNECTIONS_PER_USER: the next connection of that user is refused with 4029', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS_PER_USER: '2' })
    try {
      const [a, b] = await Promise.all([signIn(server.url), signIn(server.url)])
      const first = await connectAuthenticated(server.wsUrl, a.token)
      const second = await connectAuthenticated(server.wsUrl, a.token)

      const third = connectSocket(server.wsUrl)
      await third.next('connected')
      third.send({ type: 'auth', token: a.token })
      const error = await third.next<ErrorFrame>('error')
      expect(error.code).toBe('CONNECTION_LIMIT_PER_USER_EXCEEDED')
      expect(typeof error.message).toBe('string')
      expect((await third.closed).code).toBe(4029)
      expect(third.messages.some((m) => m.type === 'authenticated')).toBe(false)

      // The ?token= form is held to the same limit.
      const viaQuery = connectSocket(`${server.wsUrl}?token=${encodeURIComponent(a.token)}`)
      expect((await viaQuery.next<ErrorFrame>('error')).code).toBe('CONNECTION_LIMIT_PER_USER_EXCEEDED')
      expect((await viaQuery.closed).code).toBe(4029)

      // The first two are untouched, and the limit is per user: B still gets in.
      const other = await connectAuthenticated(server.wsUrl, b.token)
      const n = await publishTo(server, a.user.id, 1)
      for (const socket of [first, second]) {
        expect((await socket.next<NotificationFrame>('notification')).notification).toEqual(n)
        socket.send({ type: 'ping' })
        expect(await socket.next('pong')).toEqual({ type: 'pong' })
      }
      expect(server.herald.getUserConnectionCount(a.user.id)).toBe(2)

      // A closed connection frees its slot.
      first.close()
      await first.closed
      await until(
        'the close',
        () => server.herald.getUserConnectionCount(a.user.id) === 1 || undefined,
        3000,
        5,
      )
      const replacement = await connectAuthenticated(server.wsUrl, a.token)
      const n2 = await publishTo(server, a.user.id, 2)
      expect((await replacement.next<NotificationFrame>('notification')).notification).toEqual(n2)
      await closeAll([second, other, replacement])
    } finally {
      await server.stop()
    }
  }, 30_000)

  test('MAX_CONNECTIONS: the next connection is refused with 4029 and the others keep working', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS: '2', MAX_CONNECTIONS_PER_USER: '2' })
    try {
      const session = await signIn(server.url)
      const first = await connectAuthenticated(server.wsUrl, session.token)
      const second = connectSocket(server.wsUrl)
      await second.next('connected')

      const third = connectSocket(server.wsUrl)
      const error = await third.next<ErrorFrame>('error')
      expect(error.code).toBe('CONNECTION_LIMIT_TOTAL_EXCEEDED')
      expect((await third.closed).code).toBe(4029)
      expect(third.messages.some((m) => m.type === 'connected')).toBe(false)

      const broadcast = await server.broadcast({ type: 'hello' })
      expect(await broadcast.json()).toEqual({ delivered: 2 })
      for (const socket of [first, second]) expect(await socket.next('hello')).toEqual({ type: 'hello' })
      const n = await publishTo(server, session.user.id, 1)
      expect((await first.next<NotificationFrame>('notification')).notification).toEqual(n)
      second.send({ type: 'ping' })
      expect(await second.next('pong')).toEqual({ type: 'pong' })

      second.close()
      await second.closed
      await until('the close', () => server.herald.connectionCount === 1 || undefined, 3000, 5)
      const replacement = connectSocket(server.wsUrl)
      await replacement.next('connected')
      await closeAll([first, replacement])
    } finally {
      await server.stop()
    }
  }, 30_000)
})

describe('message limits', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ MAX_FRAME_BYTES: '1024', WS_MESSAGES_PER_SECOND: '5' })
  }, 30_000)
  afterAll(async () => {
    await server.stop()
  }, 30_000)

  test('a frame over MAX_FRAME_BYTES closes that socket with 1009; the server keeps serving others', async () => {
    const session = await signIn(server.url)
    const bystander = await connectAuthenticated(server.wsUrl, session.token)
    const big = await connectAuthenticated(server.wsUrl, session.token)
    big.send({ type: 'ping', padding: 'x'.repeat(2000) })
    expect((await big.closed).code).toBe(1009)

    // Just under the limit is an ordinary (here invalid) message: an error, and the socket stays open.
    const near = connectSocket(server.wsUrl)
    await near.next('connected')
    near.send({ type: 'nonsense', padding: 'x'.repeat(900) })
    expect((await near.next<ErrorFrame>('error')).code).toBe('INVALID_MESSAGE')
    near.send({ type: 'ping' })
    expect(await near.next('pong')).toEqual({ type: 'pong' })

    bystander.send({ type: 'ping' })
    expect(await bystander.next('pong')).toEqual({ type: 'pong' })
    const n = await publishTo(server, session.user.id, 1)
    expect((await bystander.next<NotificationFrame>('notification')).notification).toEqual(n)
    await closeAll([bystander, near])
  })

  test('a burst over WS_MESSAGES_PER_SECOND gets RATE_LIMITED and close 4008; others are unaffected', async () => {
    const calm = connectSocket(server.wsUrl)
    await calm.next('connected')
    const flood = connectSocket(server.wsUrl)
    await flood.next('connected')
    for (let i = 0; i < 50; i++) flood.send({ type: 'ping' })
    const closed = await flood.closed
    expect(closed.code).toBe(4008)
    const errors = flood.messages.filter((m): m is ErrorFrame => m.type === 'error')
    expect(errors.map((e) => e.code)).toEqual(['RATE_LIMITED'])
    expect(flood.messages.at(-1)).toBe(errors[0]!)
    // Counted once for operators, under its limit.
    expect(await metricValue(server.url, 'herald_rate_limited_total', { limit: 'ws_messages' })).toBe(1)
    // Up to the burst allowance (twice the rate) was answered before the limit hit.
    const pongs = flood.messages.filter((m) => m.type === 'pong').length
    expect(pongs).toBeGreaterThanOrEqual(5)
    expect(pongs).toBeLessThanOrEqual(11)

    calm.send({ type: 'ping' })
    expect(await calm.next('pong')).toEqual({ type: 'pong' })
    await closeAll([calm])
  })

  test('resume before auth answers UNAUTHORIZED and the socket stays open; bad frames too', async () => {
    const session = await signIn(server.url)
    await publishTo(server, session.user.id, 1)
    const socket = connectSocket(server.wsUrl)
    await socket.next('connected')
    socket.send({ type: 'resume', since: 0 })
    expect((await socket.next<ErrorFrame>('error')).code).toBe('UNAUTHORIZED')
    socket.sendRaw('{not json')
    expect((await socket.next<ErrorFrame>('error')).code).toBe('INVALID_MESSAGE')
    socket.send({ type: 'resume', since: -1 })
    expect((await socket.next<ErrorFrame>('error')).code).toBe('INVALID_MESSAGE')
    socket.send({ type: 'ping' })
    expect(await socket.next('pong')).toEqual({ type: 'pong' })
    // Still usable: it authenticates and resumes now.
    socket.send({ type: 'auth', token: session.token })
    await socket.next('authenticated')
    socket.send({ type: 'resume', since: 0 })
    expect((await socket.next<NotificationFrame>('notification')).notification.seq).toBe(1)
    expect(await socket.next()).toEqual({ type: 'resumed', since: 0, replayed: 1, seq: 1 })
    expect(socket.ws.readyState).toBe(WebSocket.OPEN)
    await closeAll([socket])
  })
})
