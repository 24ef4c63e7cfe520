import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'

// Resume: replay of what a client missed, the hand-over to live delivery (no gap, no repeat), reset past the
// replay cap, and all of it while notifications keep being created.

type NotificationFrame = { type: 'notification'; notification: Notification }
type ResumedFrame = { type: 'resumed'; since: number; replayed: number; seq: number }
type ResetFrame = { type: 'reset'; seq: number }

const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
const isNotification = (m: { type: string }): m is NotificationFrame => m.type === 'notification'
const seqsOf = (messages: TestSocket['messages']) =>
  messages.filter(isNotification).map((m) => m.notification.seq)

async function publishTo(server: TestServer, userId: string, n: number): Promise<Notification> {
  const res = await server.publish({ userId, type: 'test', title: `Title ${n}`, message: `Message ${n}` })
  expect(res.status).toBe(201)
  return ((await res.json()) as { notification: Notification }).notification
}

/** Creates `count` notifications, `concurrency` at a time, calling `onEach` after each one is stored. */
async function stream(
  server: TestServer,
  userId: string,
  count: number,
  concurrency: number,
  onEach: (created: number) => void = () => {},
): Promise<Notification[]> {
  const created: Notification[] = []
  let next = 0
  await Promise.all(
    range(1, concurrency).map(async () => {
      while (next < count) {
        next++
        created.push(await publishTo(server, userId, next))
        onEach(created.length)
      }
    }),
  )
  return created
}

/** A fresh connection that sends auth and, at once, resume: the way a reconnecting client catches up. */
async function reconnect(server: TestServer, token: string, since: number): Promise<TestSocket> {
  const socket = connectSocket(server.wsUrl)
  await socket.opened
  await socket.next('connected')
  socket.send({ type: 'auth', token })
  socket.send({ type: 'resume', since })
  return socket
}

/**
 * Checks one resumed connection against the contract: before `resumed` exactly the notifications after
 * `since`, in order, as many as `replayed` says, the last of them being `resumed.seq`; after it only live
 * ones, each newer than `resumed.seq`, in increasing order. Returns every seq the connection received.
 */
function checkResumed(socket: TestSocket, since: number): { resumed: ResumedFrame; seqs: number[] } {
  const messages = socket.messages
  const at = messages.findIndex((m) => m.type === 'resumed')
  expect(at).toBeGreaterThan(0)
  const resumed = messages[at] as ResumedFrame
  const authenticatedAt = messages.findIndex((m) => m.type === 'authenticated')
  expect(authenticatedAt).toBeGreaterThan(0)
  expect(authenticatedAt).toBeLessThan(at)
  expect(seqsOf(messages.slice(0, authenticatedAt))).toEqual([])
  const replayed = seqsOf(messages.slice(0, at))
  const live = seqsOf(messages.slice(at + 1))
  expect(resumed.since).toBe(since)
  expect(resumed.replayed).toBe(replayed.length)
  expect(replayed).toEqual(range(since + 1, resumed.seq))
  expect(resumed.seq).toBeGreaterThanOrEqual(since)
  for (const seq of live) expect(seq).toBeGreaterThan(resumed.seq)
  const seqs = [...replayed, ...live]
  expectStrictlyIncreasing(seqs)
  return { resumed, seqs }
}

function expectStrictlyIncreasing(seqs: number[]): void {
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i]! <= seqs[i - 1]!)
      throw new Error(`seqs not strictly increasing at ${i}: ${JSON.stringify(seqs)}`)
  }
}

async function waitForNotifications(socket: TestSocket, upTo: number, timeoutMs = 10_000): Promise<void> {
  await socket.next((m) => isNotification(m) && m.notification.seq === upTo, timeoutMs)
}

/**
 * Waits until `resumed` has arrived, before or after the messages next() already took: when the replay ends
 * with the latest seq, that notification arrives just before `resumed`.
 */
async function resumedArrived(socket: TestSocket, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!socket.messages.some((m) => m.type === 'resumed')) {
    if (Date.now() > deadline) throw new Error(`no "resumed" within ${timeoutMs} ms`)
    await Bun.sleep(5)
  }
}

describe('resume', () => {
  let server: TestServer
  beforeAll(async () => {
    // The stress test reconnects as fast as it can from one address: WS_CONNECTIONS_PER_SECOND_PER_IP has
    // tests of its own (abuse.test.ts).
    server = await startTestServer({ WS_CONNECTIONS_PER_SECOND_PER_IP: '10000' })
  }, 30_000)
  afterAll(async () => {
    await server.stop()
  }, 30_000)

  test('replays exactly what was missed, also what is created during the reconnect, then goes live', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    const first = await connectAuthenticated(server.wsUrl, session.token)
    await stream(server, userId, 10, 3)
    await waitForNotifications(first, 10)
    const seen = seqsOf(first.messages)
    expect(seen).toEqual(range(1, 10))
    first.close()
    await first.closed

    // 50 missed: 20 while away, the other 30 created while the client reconnects and resumes.
    await stream(server, userId, 20, 4)
    let started!: () => void
    const midway = new Promise<void>((resolve) => {
      started = resolve
    })
    const during = stream(server, userId, 30, 3, (n) => {
      if (n === 3) started()
    })
    await midway
    const second = await reconnect(server, session.token, 10)
    const duringCreated = await during
    expect(duringCreated).toHaveLength(30)
    // Then live ones after the stream.
    for (let i = 0; i < 5; i++) await publishTo(server, userId, i)
    await waitForNotifications(second, 65)
    await resumedArrived(second)

    const { resumed, seqs } = checkResumed(second, 10)
    expect(resumed.seq).toBeGreaterThanOrEqual(33)
    expect(seqs).toEqual(range(11, 65))
    // What arrived is what was stored.
    const listed = await fetch(`${server.url}/api/notifications?limit=100`, {
      headers: bearer(session.token),
    })
    const stored = ((await listed.json()) as { notifications: Notification[] }).notifications
    const bySeq = new Map(stored.map((n) => [n.seq, n]))
    for (const frame of second.messages.filter(isNotification)) {
      expect(frame.notification).toEqual(bySeq.get(frame.notification.seq)!)
    }
    // Nothing late trickles in after.
    await Bun.sleep(50)
    expect(seqsOf(second.messages)).toEqual(range(11, 65))
    second.close()
    await second.closed
  })

  test('resume while other connections of the user stay live: all of them end up with every seq once', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    const stayer = await connectAuthenticated(server.wsUrl, session.token)
    const leaver = await connectAuthenticated(server.wsUrl, session.token)
    await stream(server, userId, 5, 2)
    await waitForNotifications(leaver, 5)
    leaver.close()
    await leaver.closed
    const during = stream(server, userId, 40, 4)
    await Bun.sleep(5)
    const back = await reconnect(server, session.token, 5)
    await during
    await waitForNotifications(back, 45)
    await waitForNotifications(stayer, 45)
    await resumedArrived(back)
    expect(checkResumed(back, 5).seqs).toEqual(range(6, 45))
    expect(seqsOf(stayer.messages)).toEqual(range(1, 45))
    for (const s of [stayer, back]) s.close()
    await Promise.all([stayer.closed, back.closed])
  })

  test('since equal to the latest seq: resumed with nothing replayed, then live', async () => {
    const session = await signIn(server.url)
    // A user with no notifications yet.
    const empty = await reconnect(server, session.token, 0)
    expect(await empty.next('resumed')).toEqual({ type: 'resumed', since: 0, replayed: 0, seq: 0 })

    for (let i = 1; i <= 4; i++) await publishTo(server, session.user.id, i)
    await waitForNotifications(empty, 4)
    expect(seqsOf(empty.messages)).toEqual([1, 2, 3, 4])

    // A client that waited for `authenticated` before resuming, with nothing created in between.
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    socket.send({ type: 'resume', since: 4 })
    expect(await socket.next()).toEqual({ type: 'resumed', since: 4, replayed: 0, seq: 4 })
    const live = await publishTo(server, session.user.id, 5)
    expect((await socket.next<NotificationFrame>('notification')).notification).toEqual(live)
    expect(seqsOf(socket.messages)).toEqual([5])
    // A resume from the middle on the same connection replays from there.
    socket.send({ type: 'resume', since: 2 })
    expect(await socket.next()).toMatchObject({ type: 'notification', notification: { seq: 3 } })
    expect(await socket.next()).toMatchObject({ type: 'notification', notification: { seq: 4 } })
    expect(await socket.next()).toMatchObject({ type: 'notification', notification: { seq: 5 } })
    expect(await socket.next()).toEqual({ type: 'resumed', since: 2, replayed: 3, seq: 5 })
    for (const s of [empty, socket]) s.close()
    await Promise.all([empty.closed, socket.closed])
  })

  test('since greater than the latest seq: reset with the latest seq, then live', async () => {
    const session = await signIn(server.url)
    const fresh = await reconnect(server, session.token, 7)
    expect(await fresh.next((m) => m.type === 'reset' || m.type === 'resumed')).toEqual({
      type: 'reset',
      seq: 0,
    })

    for (let i = 1; i <= 3; i++) await publishTo(server, session.user.id, i)
    await waitForNotifications(fresh, 3)
    const socket = await reconnect(server, session.token, 100)
    expect(await socket.next((m) => m.type === 'reset' || m.type === 'resumed')).toEqual({
      type: 'reset',
      seq: 3,
    })
    const live = await publishTo(server, session.user.id, 4)
    expect((await socket.next<NotificationFrame>('notification')).notification).toEqual(live)
    expect(seqsOf(socket.messages)).toEqual([4])
    for (const s of [fresh, socket]) s.close()
    await Promise.all([fresh.closed, socket.closed])
  })

  test('stress: reconnects and resumes during a stream of 100 notifications lose and repeat nothing', async () => {
    for (let round = 0; round < 4; round++) {
      const session = await signIn(server.url)
      await resumeThroughStream(server, session, 100, round % 2 === 0 ? 4 : 1)
    }
  }, 20_000)
})

/**
 * A client that keeps dropping its connection and resuming from the last seq it saw (sometimes in the middle
 * of a replay) while `count` notifications are created. Every connection must see strictly increasing seqs,
 * and all of them together exactly 1..count.
 */
async function resumeThroughStream(
  server: TestServer,
  session: Session,
  count: number,
  concurrency: number,
): Promise<void> {
  const received: number[] = []
  let done = false
  const producer = stream(server, session.user.id, count, concurrency).then((created) => {
    done = true
    return created
  })
  let connections = 0
  while (!done) {
    const since = received.at(-1) ?? 0
    const socket = await reconnect(server, session.token, since)
    connections++
    await Bun.sleep(Math.floor(Math.random() * 25))
    socket.close()
    await socket.closed
    const seqs = seqsOf(socket.messages)
    expectStrictlyIncreasing(seqs)
    if (seqs.length > 0) expect(seqs[0]).toBe(since + 1)
    received.push(...seqs)
  }
  const created = await producer
  expect(created.map((n) => n.seq).sort((a, b) => a - b)).toEqual(range(1, count))
  const since = received.at(-1) ?? 0
  const last = await reconnect(server, session.token, since)
  await last.next('resumed')
  const { seqs } = checkResumed(last, since)
  received.push(...seqs)
  expect(received).toEqual(range(1, count))
  // And live delivery goes on after it.
  const after = await publishTo(server, session.user.id, count + 1)
  expect((await last.next<NotificationFrame>('notification')).notification).toEqual(after)
  last.close()
  await last.closed
  expect(connections).toBeGreaterThan(1)
}

describe('replay cap', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ REPLAY_CAP: '10' })
  }, 30_000)
  afterAll(async () => {
    await server.stop()
  }, 30_000)

  async function missed(session: Session, before: number, missedCount: number): Promise<void> {
    const first = await connectAuthenticated(server.wsUrl, session.token)
    await stream(server, session.user.id, before, 2)
    if (before > 0) await waitForNotifications(first, before)
    first.close()
    await first.closed
    await stream(server, session.user.id, missedCount, 3)
  }

  test('more missed than REPLAY_CAP: reset with the latest seq, then only live ones after it', async () => {
    const session = await signIn(server.url)
    await missed(session, 3, 25)
    const socket = await reconnect(server, session.token, 3)
    const reset = await socket.next<ResetFrame>((m) => m.type === 'reset' || m.type === 'resumed')
    expect(reset).toEqual({ type: 'reset', seq: 28 })
    const live = [await publishTo(server, session.user.id, 29), await publishTo(server, session.user.id, 30)]
    await waitForNotifications(socket, 30)
    expect(socket.messages.filter(isNotification).map((m) => m.notification)).toEqual(live)
    expect(socket.messages.some((m) => m.type === 'resumed')).toBe(false)
    // The seq in reset is where the HTTP re-fetch meets live delivery.
    const state = await fetch(`${server.url}/api/notifications/unread-count`, {
      headers: bearer(session.token),
    })
    expect(await state.json()).toEqual({ unreadCount: 30, unseenCount: 30, seq: 30, version: 0 })
    socket.close()
    await socket.closed
  })

  test('exactly REPLAY_CAP missed is still replayed; one more is a reset', async () => {
    const atCap = await signIn(server.url)
    await missed(atCap, 2, 10)
    const socket = await reconnect(server, atCap.token, 2)
    await socket.next('resumed')
    const { resumed, seqs } = checkResumed(socket, 2)
    expect(resumed).toEqual({ type: 'resumed', since: 2, replayed: 10, seq: 12 })
    expect(seqs).toEqual(range(3, 12))

    const overCap = await signIn(server.url)
    await missed(overCap, 0, 11)
    const other = await reconnect(server, overCap.token, 0)
    expect(await other.next((m) => m.type === 'reset' || m.type === 'resumed')).toEqual({
      type: 'reset',
      seq: 11,
    })
    expect(seqsOf(other.messages)).toEqual([])
    for (const s of [socket, other]) s.close()
    await Promise.all([socket.closed, other.closed])
  })

  test('a reset while notifications keep coming: everything after its seq arrives live, once, in order', async () => {
    const session = await signIn(server.url)
    await missed(session, 0, 20)
    const producer = stream(server, session.user.id, 40, 3)
    await Bun.sleep(5)
    const socket = await reconnect(server, session.token, 0)
    await socket.next('reset')
    // A fast producer may be done before the reset is sent: five more after it arrived go live for certain.
    await Promise.all([producer, stream(server, session.user.id, 5, 1)])
    await waitForNotifications(socket, 65)
    const at = socket.messages.findIndex((m) => m.type === 'reset')
    expect(at).toBeGreaterThan(0)
    const reset = socket.messages[at] as ResetFrame
    expect(reset.seq).toBeGreaterThanOrEqual(20)
    expect(reset.seq).toBeLessThanOrEqual(60)
    expect(seqsOf(socket.messages.slice(0, at))).toEqual([])
    expect(seqsOf(socket.messages.slice(at + 1))).toEqual(range(reset.seq + 1, 65))
    socket.close()
    await socket.closed
  })
})
