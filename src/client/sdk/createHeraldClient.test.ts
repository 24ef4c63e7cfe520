import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { until, within } from '../../../test/helpers/drill'
import { bundleForNode, nodeBinary } from '../../../test/helpers/nodeBundle'
import { createTestDatabase } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, signIn } from '../../../test/helpers/wallet'
import type {
  AuthenticatedMessage,
  BroadcastMessage,
  DataUpdateMessage,
  ErrorMessage,
  JobStatusMessage,
  Notification,
  ReadStateMessage,
  ResetMessage,
  ResumedMessage,
  ServerMessage,
  SessionResponse,
} from '../../shared/protocol'
import {
  type ConnectionState,
  createHeraldClient,
  type HeraldClient,
  type HeraldClientOptions,
} from './createHeraldClient'
import { createHttpApi, HeraldApiError } from './createHttpApi'
import { createIdempotencyKey } from './index'
import { signInWithEthereum } from './signInWithEthereum'

// The SDK against a real Herald (real sockets, real database, no mocks). Reconnect delays are short so the
// reconnect scenarios take well under a second each. The decisions behind them (dedupe, resume, reset,
// retries) are unit-tested on their own in session.test.ts.
const FAST = { minReconnectDelayMs: 50, maxReconnectDelayMs: 250 }
/** The longest a FAST client waits before it reconnects: the largest backoff step plus the most jitter. */
const RETRY_BOUND_MS = FAST.maxReconnectDelayMs + 2 * FAST.minReconnectDelayMs

interface Recorded {
  states: ConnectionState[]
  notifications: Notification[]
  jobStatus: JobStatusMessage[]
  dataUpdates: DataUpdateMessage[]
  readStates: ReadStateMessage[]
  authenticated: AuthenticatedMessage[]
  resumed: ResumedMessage[]
  resets: ResetMessage[]
  errors: ErrorMessage[]
  broadcasts: BroadcastMessage[]
  messages: (ServerMessage | BroadcastMessage)[]
  tokens: { session: SessionResponse; at: number }[]
}

const clients: HeraldClient[] = []

/** A client with every event recorded from the very first state change; disconnected after each test. */
function open(options: HeraldClientOptions): { client: HeraldClient; rec: Recorded } {
  const client = createHeraldClient({ ...FAST, ...options, autoConnect: false })
  clients.push(client)
  const rec: Recorded = {
    states: [],
    notifications: [],
    jobStatus: [],
    dataUpdates: [],
    readStates: [],
    authenticated: [],
    resumed: [],
    resets: [],
    errors: [],
    broadcasts: [],
    messages: [],
    tokens: [],
  }
  client.on('state', (state) => rec.states.push(state))
  client.on('notification', (notification) => rec.notifications.push(notification))
  client.on('job_status', (message) => rec.jobStatus.push(message))
  client.on('data_update', (message) => rec.dataUpdates.push(message))
  client.on('read_state', (message) => rec.readStates.push(message))
  client.on('authenticated', (message) => rec.authenticated.push(message))
  client.on('resumed', (message) => rec.resumed.push(message))
  client.on('reset', (message) => rec.resets.push(message))
  client.on('error', (message) => rec.errors.push(message))
  client.on('broadcast', (message) => rec.broadcasts.push(message))
  client.on('message', (message) => rec.messages.push(message))
  client.on('token', (session) => rec.tokens.push({ session, at: Date.now() }))
  client.connect()
  return { client, rec }
}

/** `until` for a condition; `what` may be a function, to describe the state at the time it gives up. */
async function waitFor(check: () => boolean, what: string | (() => string), timeoutMs = 10_000) {
  const description = typeof what === 'string' ? what : 'the condition'
  await until(description, () => (check() ? true : undefined), timeoutMs, 10).catch((error: Error) => {
    throw typeof what === 'string' ? error : new Error(`${error.message}: ${what()}`)
  })
}

/**
 * Waits until the server has answered a ping sent now: everything it sent this client before has arrived, so
 * a duplicate or a stray message would be in `rec` by then.
 */
async function settled(client: HeraldClient, rec: Recorded) {
  const pongs = () => rec.messages.filter((m) => m.type === 'pong').length
  const before = pongs()
  client.send({ type: 'ping' })
  await waitFor(() => pongs() > before, 'the pong that ends everything sent before it')
}

/**
 * Checks `check` again and again until a retry would certainly have shown (twice the longest a FAST client
 * waits before reconnecting); fails at the first miss. Only for what must NOT happen: nothing marks the
 * moment a retry that never comes would have come.
 */
async function staysTrue(what: string, check: () => boolean) {
  const deadline = performance.now() + 2 * RETRY_BOUND_MS
  await until(
    what,
    () => {
      if (!check()) throw new Error(`no longer true: ${what}`)
      return performance.now() >= deadline ? true : undefined
    },
    4 * RETRY_BOUND_MS,
    20,
  )
}

/** JWT times are whole seconds: waits until a token signed now differs from `token` (a later second). */
async function nextTokenSecond(token: string) {
  const issuedAt = decodeJwt(token).iat ?? 0
  await waitFor(() => Date.now() >= (issuedAt + 1) * 1000, 'the next second of the JWT clock', 2_000)
}

const connected = (client: HeraldClient, timeoutMs?: number) =>
  waitFor(() => client.state === 'connected', 'the client to be connected', timeoutMs)

async function publish(server: TestServer, userId: string, n: number): Promise<Notification> {
  const response = await server.publish({
    userId,
    type: 'test',
    title: `#${n}`,
    message: `notification ${n}`,
    data: { n },
  })
  if (response.status !== 201) throw new Error(`publish ${n}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { notification: Notification }).notification
}

const seqs = (rec: Recorded) => rec.notifications.map((n) => n.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect()
}, 10_000)

describe('createHeraldClient', () => {
  let server: TestServer

  beforeAll(async () => {
    server = await startTestServer()
  }, 30_000)

  afterAll(async () => {
    await server?.stop()
  }, 30_000)

  test('connects, authenticates and turns every server message into a typed event', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    const { client, rec } = open({ url: server.url, getToken: () => session.token })
    await connected(client)
    expect(rec.states).toEqual(['connecting', 'authenticating', 'connected'])
    expect(client.userId).toBe(userId)
    expect(rec.authenticated).toHaveLength(1)
    expect(rec.authenticated[0]).toMatchObject({ userId, address: session.user.address })
    // A first connection starts from "now": resume from the latest seq (none yet).
    expect(rec.resumed).toEqual([{ type: 'resumed', since: 0, replayed: 0, seq: 0 }])

    const first = await publish(server, userId, 1)
    await waitFor(() => rec.notifications.length === 1, 'notification 1')
    expect(rec.notifications[0]).toEqual(first)
    expect(first).toMatchObject({ seq: 1, type: 'test', title: '#1', data: { n: 1 }, read: false })
    expect(client.lastSeq).toBe(1)

    // job_status and data_update go through the same hub call the job workers use.
    await server.herald.sendToUser(userId, {
      type: 'job_status',
      jobId: '42',
      status: 'running',
      data: { type: 'deploy_token' },
    })
    await server.herald.sendToUser(userId, {
      type: 'data_update',
      entity: 'token',
      action: 'created',
      data: { id: '7', symbol: 'HRLD' },
    })
    await waitFor(
      () => rec.jobStatus.length === 1 && rec.dataUpdates.length === 1,
      'job_status and data_update',
    )
    expect(rec.jobStatus[0]).toEqual({
      type: 'job_status',
      jobId: '42',
      status: 'running',
      data: { type: 'deploy_token' },
    })
    expect(rec.dataUpdates[0]).toEqual({
      type: 'data_update',
      entity: 'token',
      action: 'created',
      data: { id: '7', symbol: 'HRLD' },
    })

    // read_state reaches the connection that made the change too.
    const marked = await client.api.notifications.markRead(first.id)
    expect(marked.notification).toMatchObject({ id: first.id, read: true })
    expect(marked.unreadCount).toBe(0)
    await waitFor(() => rec.readStates.length === 1, 'read_state after markRead')
    expect(rec.readStates[0]).toMatchObject({
      type: 'read_state',
      ids: [first.id],
      unreadCount: 0,
      unseenCount: 0,
    })
    await publish(server, userId, 2)
    await waitFor(() => rec.notifications.length === 2, 'notification 2')
    expect(await client.api.notifications.markAllRead()).toMatchObject({
      updated: 1,
      unreadCount: 0,
      upToSeq: 2,
    })
    await waitFor(() => rec.readStates.length === 2, 'read_state after markAllRead')
    expect(rec.readStates[1]).toMatchObject({ type: 'read_state', ids: 'all', upToSeq: 2, unreadCount: 0 })

    // An admin broadcast is delivered as it was sent, as a `broadcast` event.
    const response = await server.broadcast({ type: 'maintenance', startsIn: 60, note: 'brief' })
    expect(response.status).toBe(202)
    await waitFor(() => rec.broadcasts.length === 1, 'the broadcast')
    expect(rec.broadcasts[0]).toEqual({ type: 'maintenance', startsIn: 60, note: 'brief' })

    // Typed messages never show up as broadcasts; `message` sees everything; no error along the way.
    expect(rec.broadcasts).toHaveLength(1)
    expect(rec.errors).toEqual([])
    const types = rec.messages.map((m) => m.type)
    for (const type of ['connected', 'authenticated', 'resumed', 'notification', 'job_status', 'data_update'])
      expect(types).toContain(type)
    expect(types).toContain('read_state')
    expect(types).toContain('maintenance')
    expect(seqs(rec)).toEqual([1, 2])
    expect(rec.states).toEqual(['connecting', 'authenticating', 'connected'])

    // disconnect() closes the socket for good: the server sees no connection of this user afterwards.
    client.disconnect()
    expect(client.state).toBe('idle')
    await waitFor(() => server.herald.getUserConnectionCount(userId) === 0, 'the server to drop the socket')
    await staysTrue(
      'no reconnection after disconnect()',
      () => server.herald.getUserConnectionCount(userId) === 0,
    )
    expect(server.herald.getUserConnectionCount(userId)).toBe(0)
    expect(rec.states.at(-1)).toBe('idle')
  }, 30_000)

  test('an anonymous client (getToken returns null) receives broadcasts only', async () => {
    const session = await signIn(server.url)
    const anonymous = open({ url: server.url, getToken: () => null })
    const user = open({ url: server.url, getToken: () => session.token })
    await connected(anonymous.client)
    await connected(user.client)
    expect(anonymous.rec.states).toEqual(['connecting', 'connected'])
    expect(anonymous.client.userId).toBeNull()

    await publish(server, session.user.id, 1)
    await waitFor(() => user.rec.notifications.length === 1, 'the signed-in client to get its notification')
    expect((await server.broadcast({ type: 'announcement', text: 'hello' })).status).toBe(202)
    await waitFor(() => anonymous.rec.broadcasts.length === 1, 'the broadcast on the anonymous client')
    await waitFor(() => user.rec.broadcasts.length === 1, 'the broadcast on the signed-in client')
    // The broadcast left after the notification was delivered: on the anonymous socket anything the publish
    // could have sent there would have arrived before it.

    expect(anonymous.rec.broadcasts).toEqual([{ type: 'announcement', text: 'hello' }])
    expect(anonymous.rec.notifications).toEqual([])
    expect(anonymous.rec.authenticated).toEqual([])
    expect(anonymous.rec.errors).toEqual([])
    expect(anonymous.rec.messages.map((m) => m.type)).toEqual(['connected', 'announcement'])
    // HTTP calls need a session: refused before anything is sent.
    const error = await anonymous.client.api.auth.me().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HeraldApiError)
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHORIZED' })
  }, 30_000)

  test('resume with `since` beyond the replay cap gives `reset`, then live notifications', async () => {
    const capped = await startTestServer({ REPLAY_CAP: '5' })
    try {
      const session = await signIn(capped.url)
      const userId = session.user.id
      for (let n = 1; n <= 12; n++) await publish(capped, userId, n)
      const { client, rec } = open({ url: capped.url, getToken: () => session.token, since: 0 })
      await connected(client)
      expect(rec.resets).toEqual([{ type: 'reset', seq: 12 }])
      expect(rec.resumed).toEqual([])
      expect(rec.notifications).toEqual([])
      expect(client.lastSeq).toBe(12)
      await publish(capped, userId, 13)
      await waitFor(() => rec.notifications.length === 1, 'the live notification after reset')
      await settled(client, rec)
      expect(seqs(rec)).toEqual([13])
      expect(rec.states).toEqual(['connecting', 'authenticating', 'connected'])
    } finally {
      await capped.stop()
    }
  }, 30_000)

  test('a first connection made while notifications pour in starts from "now": contiguous, in order, once', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    let publishing = true
    let published = 0
    const publisher = (async () => {
      while (publishing || published < 10) await publish(server, userId, ++published)
    })()
    await waitFor(() => published >= 4, 'the first notifications') // 1..3 are stored
    const { client, rec } = open({ url: server.url, getToken: () => session.token })
    await connected(client)
    await waitFor(() => rec.notifications.length >= 5, 'a few live notifications')
    publishing = false
    await publisher
    await waitFor(() => client.lastSeq === published, 'the last notification')
    await settled(client, rec)
    const start = rec.resumed[0]!.since
    expect(start).toBeGreaterThanOrEqual(3)
    expect(seqs(rec)).toEqual(range(start + 1, published))
  }, 30_000)

  test('setToken signs in, refreshes on the same socket, switches user and signs out', async () => {
    const alice = await signIn(server.url)
    const bob = await signIn(server.url)
    const { client, rec } = open({ url: server.url })
    await connected(client)
    expect(client.userId).toBeNull()
    const sockets = () => rec.messages.filter((m) => m.type === 'connected').length

    // Sign in: a new connection, authenticated as Alice.
    client.setToken(alice.token)
    await waitFor(() => client.userId === alice.user.id && client.state === 'connected', 'Alice signed in')
    expect(sockets()).toBe(2)
    await publish(server, alice.user.id, 1)
    await waitFor(() => rec.notifications.length === 1, "Alice's notification")

    // A fresh token of the same user: sent on the open socket, no reconnect.
    await nextTokenSecond(alice.token)
    const aliceAgain = await signIn(server.url, alice.account)
    expect(aliceAgain.token).not.toBe(alice.token)
    const before = rec.authenticated.length
    client.setToken(aliceAgain.token)
    await waitFor(() => rec.authenticated.length === before + 1, 'the re-authentication')
    expect(sockets()).toBe(2)
    expect(client.state).toBe('connected')

    // Another user's token: the server refuses it on this socket; the client reconnects as Bob.
    client.setToken(bob.token)
    await waitFor(
      () => client.userId === bob.user.id && client.state === 'connected',
      () => `Bob signed in (states ${rec.states}, userId ${client.userId})`,
    )
    expect(client.closedReason).toBeNull()
    await publish(server, alice.user.id, 2)
    await publish(server, bob.user.id, 1)
    await waitFor(() => rec.notifications.length === 2, "Bob's notification")
    await settled(client, rec)
    expect(rec.notifications.map((n) => [n.title, n.seq])).toEqual([
      ['#1', 1],
      ['#1', 1],
    ])
    expect(server.herald.getUserConnectionCount(alice.user.id)).toBe(0)
    expect(server.herald.getUserConnectionCount(bob.user.id)).toBe(1)

    // Signing out: anonymous again, broadcasts only.
    client.setToken(null)
    await waitFor(() => client.userId === null && client.state === 'connected', 'signed out')
    await waitFor(() => server.herald.getUserConnectionCount(bob.user.id) === 0, 'Bob’s socket closed')
    await publish(server, bob.user.id, 2)
    await settled(client, rec)
    expect(rec.notifications).toHaveLength(2)
  }, 30_000)

  test('`since` within the replay cap replays exactly what was missed, then live ones', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    for (let n = 1; n <= 4; n++) await publish(server, userId, n)
    const { client, rec } = open({ url: server.url, getToken: () => session.token, since: 1 })
    await connected(client)
    expect(rec.resumed).toEqual([{ type: 'resumed', since: 1, replayed: 3, seq: 4 }])
    await publish(server, userId, 5)
    await waitFor(() => rec.notifications.length === 4, 'the replay and the live notification')
    await settled(client, rec)
    expect(seqs(rec)).toEqual([2, 3, 4, 5])
  }, 30_000)
})

describe('reconnecting', () => {
  let shared: TestServer
  beforeAll(async () => {
    shared = await startTestServer()
  }, 30_000)
  afterAll(async () => {
    await shared?.stop()
  }, 30_000)

  test('after a server restart it reconnects by itself and resumes: every notification once, in order', async () => {
    const database = await createTestDatabase()
    let current: TestServer | null = await startTestServer({}, { database, keepDatabase: true })
    try {
      const url = current.url
      const port = String(current.herald.port)
      const session = await signIn(url)
      const userId = session.user.id
      const { client, rec } = open({ url, getToken: () => session.token })
      await connected(client)
      for (let n = 1; n <= 5; n++) await publish(current, userId, n)
      await waitFor(() => rec.notifications.length === 5, 'notifications 1..5')

      // Each time the server goes away, two notifications are stored while it is down (by another instance on
      // the same database), and three more are published the moment it is back, racing the client's
      // reconnect, resume and replay (a live one pushed between `authenticated` and the resume once made the
      // SDK skip the replayed ones before it). Several rounds, since the race is timing-dependent.
      const ROUNDS = 3
      let last = 5
      for (let round = 0; round < ROUNDS; round++) {
        await current.stop()
        current = null
        await waitFor(() => client.state === 'reconnecting', 'the client to notice the restart')
        const other = await startTestServer({}, { database, keepDatabase: true })
        try {
          for (let k = 0; k < 2; k++) await publish(other, userId, ++last)
        } finally {
          await other.stop()
        }
        current = await startTestServer({ PORT: port }, { database, keepDatabase: true })
        expect(current.url).toBe(url)
        for (let k = 0; k < 3; k++) await publish(current, userId, ++last)
        await waitFor(
          () => rec.notifications.length >= last && client.state === 'connected',
          () =>
            `notifications up to ${last} after restart ${round + 1} (have ${seqs(rec)}; states ${rec.states}; errors ${JSON.stringify(rec.errors)})`,
        )
      }
      await settled(client, rec)
      expect(seqs(rec)).toEqual(range(1, last))
      expect(rec.notifications.map((n) => n.title)).toEqual(range(1, last).map((n) => `#${n}`))
      expect(rec.states.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(2)
      expect(rec.states.at(-1)).toBe('connected')
      // The first resume starts from the latest seq; the next two from where the client was.
      expect(rec.resumed.map((r) => r.since)).toEqual(range(0, ROUNDS).map((r) => r * 5))
      expect(rec.errors).toEqual([])
      expect(client.closedReason).toBeNull()
    } finally {
      await current?.stop()
      await database.close()
    }
  }, 60_000)

  test('a connection limit stops it: closed with the reason, no retries', async () => {
    const limited = await startTestServer({ MAX_CONNECTIONS_PER_USER: '1' })
    try {
      const session = await signIn(limited.url)
      const userId = session.user.id
      const first = open({ url: limited.url, getToken: () => session.token })
      await connected(first.client)
      const second = open({ url: limited.url, getToken: () => session.token })
      await waitFor(() => second.client.state === 'closed', 'the second client to give up')
      expect(second.client.closedReason?.code).toBe('CONNECTION_LIMIT_PER_USER_EXCEEDED')
      expect(second.client.closedReason?.message).toBeTruthy()
      expect(second.rec.states).toEqual(['connecting', 'authenticating', 'closed'])
      expect(second.rec.errors.map((e) => e.code)).toEqual(['CONNECTION_LIMIT_PER_USER_EXCEEDED'])

      // Until a retry would certainly have shown: the server never sees a second connection and the client
      // never tries again.
      const counts: number[] = []
      await staysTrue('one connection of the user, and the second client closed', () => {
        counts.push(limited.herald.getUserConnectionCount(userId))
        return second.client.state === 'closed'
      })
      expect(new Set(counts)).toEqual(new Set([1]))
      expect(limited.herald.connectionCount).toBe(1)
      expect(second.rec.states).toEqual(['connecting', 'authenticating', 'closed'])
      expect(second.rec.messages.filter((m) => m.type === 'connected')).toHaveLength(1)
      expect(first.client.state).toBe('connected')
    } finally {
      await limited.stop()
    }
  }, 30_000)

  test('logged out elsewhere: asks for a token again, and the same revoked token ends it as UNAUTHORIZED', async () => {
    const session = await signIn(shared.url)
    let asked = 0
    const { client, rec } = open({
      url: shared.url,
      getToken: () => {
        asked++
        return session.token
      },
    })
    await connected(client)
    expect(asked).toBe(1)
    const logout = await fetch(`${shared.url}/api/auth/logout`, {
      method: 'POST',
      headers: bearer(session.token),
    })
    expect(logout.status).toBe(204)
    await waitFor(() => client.state === 'closed', 'the client to give up')
    expect(client.closedReason?.code).toBe('UNAUTHORIZED')
    expect(asked).toBe(2)
    expect(rec.states).toEqual([
      'connecting',
      'authenticating',
      'connected',
      'reconnecting',
      'authenticating',
      'closed',
    ])
    await staysTrue('closed, and getToken not asked again', () => client.state === 'closed' && asked === 2)
    expect(rec.states.at(-1)).toBe('closed')
    expect(asked).toBe(2)
    expect(shared.herald.getUserConnectionCount(session.user.id)).toBe(0)
  }, 30_000)

  test('logged out elsewhere with a fresh token from getToken: reconnects and resumes', async () => {
    const session = await signIn(shared.url)
    const userId = session.user.id
    const fresh = await signIn(shared.url, session.account)
    expect(fresh.user.id).toBe(userId)
    const tokens = [session.token, fresh.token]
    let asked = 0
    const { client, rec } = open({ url: shared.url, getToken: () => tokens[Math.min(asked++, 1)]! })
    await connected(client)
    await publish(shared, userId, 1)
    await publish(shared, userId, 2)
    await waitFor(() => rec.notifications.length === 2, 'notifications 1 and 2')

    const logout = await fetch(`${shared.url}/api/auth/logout`, {
      method: 'POST',
      headers: bearer(session.token),
    })
    expect(logout.status).toBe(204)
    await publish(shared, userId, 3)
    await waitFor(() => rec.notifications.length === 3 && client.state === 'connected', 'the resumed client')
    await publish(shared, userId, 4)
    await waitFor(() => rec.notifications.length === 4, 'notification 4')
    await settled(client, rec)
    expect(seqs(rec)).toEqual([1, 2, 3, 4])
    expect(asked).toBe(2)
    expect(rec.states).toEqual([
      'connecting',
      'authenticating',
      'connected',
      'reconnecting',
      'authenticating',
      'connected',
    ])
    expect(rec.resumed.at(-1)?.since).toBe(2)
    expect(client.closedReason).toBeNull()
    expect(shared.herald.getUserConnectionCount(userId)).toBe(1)
  }, 30_000)
})

describe('token refresh', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ TOKEN_TTL_SECONDS: '3' })
  }, 30_000)
  afterAll(async () => {
    await server?.stop()
  }, 30_000)

  test('refreshes before expiry on the same socket, and keeps receiving past the first token’s end', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    const expiresAt = Date.parse(session.expiresAt)
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(4_000) // 3 s, rounded up to a whole second
    const { client, rec } = open({ url: server.url, getToken: () => session.token, refreshBeforeMs: 1_500 })
    await connected(client)

    await waitFor(() => rec.tokens.length >= 1, 'the first refresh', 5_000)
    const [refreshed] = rec.tokens
    expect(refreshed!.at).toBeLessThan(expiresAt)
    expect(refreshed!.session.token).not.toBe(session.token)
    expect(refreshed!.session.user).toEqual(session.user)
    expect(Date.parse(refreshed!.session.expiresAt)).toBeGreaterThan(expiresAt)

    // Well past the original token's expiry (and past the second token's refresh).
    await waitFor(() => Date.now() > expiresAt + 1_500, 'the original token to be long expired', 6_000)
    await publish(server, userId, 1)
    await waitFor(() => rec.notifications.length === 1, 'a notification after the original expiry')

    expect(rec.errors).toEqual([])
    expect(rec.messages.some((m) => m.type === 'error')).toBe(false)
    expect(rec.states).toEqual(['connecting', 'authenticating', 'connected'])
    // One socket all along: one `connected` frame, and an `authenticated` per refresh on it.
    expect(rec.messages.filter((m) => m.type === 'connected')).toHaveLength(1)
    expect(rec.tokens.length).toBeGreaterThanOrEqual(2)
    expect(rec.authenticated).toHaveLength(1 + rec.tokens.length)
    expect(rec.resumed).toHaveLength(1)
    expect(server.herald.getUserConnectionCount(userId)).toBe(1)
    // The HTTP API follows the refreshed token too.
    expect(await client.api.auth.me()).toEqual(session.user)
  }, 30_000)

  test('with the default refresh window, a token shorter than the window is refreshed at a sane pace', async () => {
    const session = await signIn(server.url)
    const { client, rec } = open({ url: server.url, getToken: () => session.token })
    await connected(client)
    // A 3 s token: refreshed about every 1.5 s (half of what is left), not in a loop.
    await waitFor(() => rec.tokens.length >= 2, 'two refreshes', 6_000)
    expect(rec.tokens[1]!.at - rec.tokens[0]!.at).toBeGreaterThanOrEqual(500)
    expect(rec.tokens.length).toBeGreaterThanOrEqual(1)
    expect(rec.tokens.length).toBeLessThanOrEqual(4)
    expect(rec.errors).toEqual([])
    expect(client.state).toBe('connected')
  }, 30_000)
})

describe('HTTP API', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  }, 30_000)
  afterAll(async () => {
    await server?.stop()
  }, 30_000)

  test('typed results for list, unreadCount, markRead, markAllRead, me and refresh', async () => {
    const session = await signIn(server.url)
    const userId = session.user.id
    let token = session.token
    const api = createHttpApi({ url: `${server.url}/`, token: () => token })
    const published: Notification[] = []
    for (let n = 1; n <= 3; n++) published.push(await publish(server, userId, n))

    const list = await api.notifications.list()
    expect(list.notifications).toEqual([...published].reverse())
    expect(list.nextBefore).toBeNull()
    expect(list.unreadCount).toBe(3)
    const page = await api.notifications.list({ limit: 2 })
    expect(page.notifications.map((n) => n.seq)).toEqual([3, 2])
    expect(page.nextBefore).toBe(2)
    const rest = await api.notifications.list({ limit: 2, before: page.nextBefore! })
    expect(rest.notifications.map((n) => n.seq)).toEqual([1])
    expect(rest.nextBefore).toBeNull()

    expect(await api.notifications.unreadCount()).toEqual({
      unreadCount: 3,
      unseenCount: 3,
      seq: 3,
      version: 0,
    })
    const marked = await api.notifications.markRead(published[1]!.id)
    expect(marked).toEqual({
      notification: { ...published[1]!, read: true, seen: true },
      unreadCount: 2,
      unseenCount: 2,
      seq: 3,
      version: 1,
    })
    const unread = await api.notifications.list({ unread: true })
    expect(unread.notifications.map((n) => n.seq)).toEqual([3, 1])
    // Inbox states (§7): seen up to a seq, archive and the archive's list, filters by type, read-all up to a seq.
    expect(await api.notifications.markSeen({ upToSeq: 1 })).toMatchObject({ updated: 1, unseenCount: 1 })
    expect(await api.notifications.archive(published[0]!.id)).toMatchObject({
      notification: { archived: true },
      unreadCount: 1,
    })
    expect((await api.notifications.list({ archived: true })).notifications.map((n) => n.seq)).toEqual([1])
    expect((await api.notifications.list({ type: ['test', 'other'] })).notifications).toHaveLength(2)
    expect(await api.notifications.unarchive(published[0]!.id)).toMatchObject({ unreadCount: 2 })
    expect(await api.notifications.markAllRead({ upToSeq: 1 })).toMatchObject({ updated: 1, upToSeq: 1 })
    expect(await api.notifications.markAllRead()).toMatchObject({ updated: 1, unreadCount: 0, upToSeq: 3 })
    expect(await api.notifications.unreadCount()).toMatchObject({ unreadCount: 0, unseenCount: 0, seq: 3 })
    expect(await api.notifications.types()).toEqual({ types: ['test'] })
    const preferences = await api.preferences.set({ types: { test: { push: false } } })
    expect(preferences).toEqual({
      default: { inApp: true, push: true },
      types: { test: { inApp: true, push: false } },
    })
    expect(await api.preferences.get()).toEqual(preferences)

    expect(await api.auth.me()).toEqual(session.user)
    // (Within the same second as the sign-in the refreshed token may be identical: JWT times are seconds.)
    await nextTokenSecond(session.token)
    const refreshed = await api.auth.refresh()
    expect(refreshed.user).toEqual(session.user)
    expect(refreshed.token).not.toBe(session.token)
    expect(Date.parse(refreshed.expiresAt)).toBeGreaterThan(Date.parse(session.expiresAt))
    token = refreshed.token
    expect(await api.auth.me()).toEqual(session.user)

    const config = await api.auth.config()
    expect(config).toMatchObject({
      chainId: expect.any(Number),
      rpcUrl: null,
      siweDomain: expect.any(String),
    })
  }, 30_000)

  test('writes take an idempotencyKey: the same operation again answers the first result, another is refused', async () => {
    const session = await signIn(server.url)
    const api = createHttpApi({ url: server.url, token: () => session.token })
    const published = [await publish(server, session.user.id, 1), await publish(server, session.user.id, 2)]
    const idempotencyKey = createIdempotencyKey()
    const first = await api.notifications.markAllRead({ idempotencyKey })
    expect(first).toMatchObject({ updated: 2, unreadCount: 0, upToSeq: 2 })
    await publish(server, session.user.id, 3)
    // Replayed: the first answer, not a second run (which would have updated the third).
    expect(await api.notifications.markAllRead({ idempotencyKey })).toEqual(first)
    expect(await api.notifications.unreadCount()).toMatchObject({ unreadCount: 1, seq: 3 })
    const readKey = createIdempotencyKey()
    await api.notifications.markRead(published[0]!.id, { idempotencyKey: readKey })
    const reused = await api.notifications
      .markRead(published[1]!.id, { idempotencyKey: readKey })
      .catch((e: unknown) => e)
    expect(reused).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' })
    // This server has no chain: the deployment is refused (and its key released, 5xx being forgotten).
    const noChain = await api.tokens
      .deploy({ name: 'N', symbol: 'N', initialSupply: '1' }, { idempotencyKey: createIdempotencyKey() })
      .catch((e: unknown) => e)
    expect(noChain).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' })
  })

  test('errors become HeraldApiError with status and code', async () => {
    const session = await signIn(server.url)
    const api = createHttpApi({ url: server.url, token: () => session.token })
    const notFound = await api.notifications.markRead('999999999').catch((e: unknown) => e)
    expect(notFound).toBeInstanceOf(HeraldApiError)
    expect(notFound).toMatchObject({ name: 'HeraldApiError', status: 404, code: 'NOT_FOUND' })
    expect((notFound as HeraldApiError).message).toBeTruthy()
    const invalid = await api.notifications.markRead('abc').catch((e: unknown) => e)
    expect(invalid).toMatchObject({ status: 422, code: 'INVALID_INPUT' })
    const missingJob = await api.jobs.get('123456').catch((e: unknown) => e)
    expect(missingJob).toMatchObject({ status: 404, code: 'NOT_FOUND' })

    const stranger = createHttpApi({ url: server.url, token: () => 'not-a-token' })
    const unauthorized = await stranger.auth.me().catch((e: unknown) => e)
    expect(unauthorized).toBeInstanceOf(HeraldApiError)
    expect(unauthorized).toMatchObject({ status: 401, code: 'UNAUTHORIZED' })

    // After logout the same token is refused.
    await api.auth.logout()
    const revoked = await api.auth.me().catch((e: unknown) => e)
    expect(revoked).toMatchObject({ status: 401, code: 'UNAUTHORIZED' })
    const refresh = await api.auth.refresh().catch((e: unknown) => e)
    expect(refresh).toMatchObject({ status: 401, code: 'UNAUTHORIZED' })
  }, 30_000)

  test('signInWithEthereum with a viem private-key account returns a working session', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const anonymous = createHttpApi({ url: server.url, token: () => null })
    const session = await signInWithEthereum(anonymous, {
      address: account.address,
      signMessage: (message) => account.signMessage({ message }),
    })
    expect(session.user.address).toBe(account.address)
    expect(session.token).toEqual(expect.any(String))
    expect(Date.parse(session.expiresAt)).toBeGreaterThan(Date.now())

    const { client, rec } = open({ url: server.url, getToken: () => session.token })
    expect(await client.api.auth.me()).toEqual(session.user)
    await connected(client)
    expect(client.userId).toBe(session.user.id)
    await publish(server, session.user.id, 1)
    await waitFor(() => rec.notifications.length === 1, 'a notification for the SIWE session')

    // A signature by another key is refused with the contract's code.
    const other = privateKeyToAccount(generatePrivateKey())
    const refused = await signInWithEthereum(anonymous, {
      address: account.address,
      signMessage: (message) => other.signMessage({ message }),
    }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(HeraldApiError)
    expect(refused).toMatchObject({ status: 401, code: 'SIWE_INVALID' })
  }, 30_000)
})

// The SDK bundled for Node and run by `node`: with the `ws` package (Node 20 has no global WebSocket), and
// with Node's own WebSocket (behind --experimental-websocket on Node 20, built in from Node 22).
describe.skipIf(!nodeBinary)('under Node', () => {
  let server: TestServer
  let bundle: ReturnType<typeof bundleForNode>
  let globalWebSocketFlags: string[] = []

  beforeAll(async () => {
    server = await startTestServer()
    bundle = bundleForNode(join(import.meta.dir, 'nodeClient.fixture.mjs'))
    const probe = Bun.spawnSync([nodeBinary!, '-e', 'process.stdout.write(typeof WebSocket)'])
    if (probe.stdout.toString() !== 'function') globalWebSocketFlags = ['--experimental-websocket']
  }, 30_000)

  afterAll(async () => {
    await server?.stop()
    bundle?.remove()
  }, 30_000)

  for (const variant of ['ws', 'global'] as const) {
    test(`connects, receives a notification and exits cleanly (${variant === 'ws' ? 'ws package' : 'global WebSocket'})`, async () => {
      const session = await signIn(server.url)
      const flags = variant === 'global' ? globalWebSocketFlags : []
      const child = Bun.spawn([nodeBinary!, ...flags, bundle.path], {
        env: { ...process.env, HERALD_URL: server.url, HERALD_TOKEN: session.token, HERALD_WS: variant },
        stdout: 'pipe',
        stderr: 'pipe',
      })
      try {
        const lines: string[] = []
        const reading = (async () => {
          const decoder = new TextDecoder()
          let buffer = ''
          for await (const chunk of child.stdout) {
            buffer += decoder.decode(chunk, { stream: true })
            let end = buffer.indexOf('\n')
            while (end >= 0) {
              lines.push(buffer.slice(0, end))
              buffer = buffer.slice(end + 1)
              end = buffer.indexOf('\n')
            }
          }
        })()
        const stderr = new Response(child.stderr).text()
        await waitFor(
          () => {
            if (child.exitCode !== null) throw new Error(`node exited early (${child.exitCode})`)
            return lines.some((line) => line.includes('"ready"'))
          },
          'the Node client to connect',
          15_000,
        ).catch(async (error) => {
          child.kill()
          throw new Error(`${(error as Error).message}\nstderr: ${await stderr}`)
        })
        expect(JSON.parse(lines[0]!)).toEqual({ ready: true, userId: session.user.id })

        const published = await publish(server, session.user.id, 1)
        const exitCode = await within(child.exited, 10_000, 'node to exit').catch(() => 'timeout' as const)
        await reading
        expect({ exitCode, stderr: exitCode === 0 ? '' : await stderr }).toEqual({ exitCode: 0, stderr: '' })
        const output = JSON.parse(lines[1]!) as { notification: Notification; node: string }
        expect(output.notification).toEqual(published)
        expect(output.node).toMatch(/^\d+\./)
      } finally {
        if (child.exitCode === null) child.kill()
      }
    }, 40_000)
  }
})
