import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count } from 'drizzle-orm'
import {
  adminPublish,
  answerOn,
  channelToken,
  publicationsOf,
  publishOn,
  requestChannelToken,
  stillOpen,
  subscribe,
} from '../../../test/helpers/channels'
import { createManualClock } from '../../../test/helpers/manualClock'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import { createHeraldAdmin } from '../../client/admin'
import { channelPublications } from '../db/schema'

// Channels over a real server (docs/protocol.md §4): each namespace's rights, subscription tokens and their
// expiry, the HTTP history and presence rights, client publishing, and bad input answered with the contract's
// error while the socket stays open and nothing is stored.

const clock = createManualClock()
let server: TestServer
let alice: Session
let bob: Session
const sockets: TestSocket[] = []

const MAX_PUBLICATION_BYTES = 256

beforeAll(async () => {
  server = await startTestServer(
    {
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '3',
      MAX_PUBLICATION_BYTES: String(MAX_PUBLICATION_BYTES),
      CHANNEL_PUBLISHES_PER_SECOND: '2',
      MAX_CONNECTIONS_PER_USER: '50',
      MAX_ANONYMOUS_CONNECTIONS_PER_IP: '50',
      WS_CONNECTIONS_PER_SECOND_PER_IP: '1000',
    },
    { clock },
  )
  alice = await signIn(server.url)
  bob = await signIn(server.url)
}, 60_000)
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await server?.stop()
}, 30_000)

const anonymous = async () => {
  const socket = connectSocket(server.wsUrl)
  sockets.push(socket)
  await socket.next('connected')
  return socket
}
const as = async (session: Session) => {
  const socket = await connectAuthenticated(server.wsUrl, session.token)
  sockets.push(socket)
  return socket
}
const token = (session: Session, channel: string, ttlSeconds?: number) =>
  channelToken(server.url, ADMIN_KEY, session.user.id, channel, ttlSeconds)
const storedPublications = async () =>
  Number((await server.database.db.select({ n: count() }).from(channelPublications))[0]!.n)

describe('rights', () => {
  test('anonymous connections subscribe to public: and token: channels, never to private: or holders:', async () => {
    const socket = await anonymous()
    expect(await subscribe(socket, 'public:rights-news')).toEqual({
      type: 'subscribed',
      channel: 'public:rights-news',
      seq: 0,
      replayed: 0,
    })
    const token = '0x00000000000000000000000000000000000000aa'
    // Herald names address channels with the checksummed address.
    expect(
      await subscribe(socket, `token:${token}`, {
        answerAs: 'token:0x00000000000000000000000000000000000000AA',
      }),
    ).toMatchObject({ type: 'subscribed', seq: 0 })
    for (const channel of ['private:rights-room', `holders:${token.replace('aa', 'AA')}`]) {
      expect(await subscribe(socket, channel)).toMatchObject({ type: 'error', code: 'FORBIDDEN', channel })
    }
    await stillOpen(socket)
  })

  test('a private: token of another channel or another user is refused; the right one subscribes', async () => {
    const socket = await as(alice)
    const room = 'private:rights-deal'
    expect(await subscribe(socket, room)).toMatchObject({ code: 'FORBIDDEN', channel: room })
    expect(
      await subscribe(socket, room, { token: await token(alice, 'private:rights-other') }),
    ).toMatchObject({
      code: 'FORBIDDEN',
      channel: room,
    })
    expect(await subscribe(socket, room, { token: await token(bob, room) })).toMatchObject({
      code: 'FORBIDDEN',
      channel: room,
    })
    expect(await subscribe(socket, room, { token: 'not-a-jwt' })).toMatchObject({ code: 'FORBIDDEN' })
    expect(await subscribe(socket, room, { token: await token(alice, room) })).toMatchObject({
      type: 'subscribed',
      channel: room,
    })
    await publishOn(server.url, ADMIN_KEY, room, { n: 1 })
    await socket.next('publication')
    // Bob, signed in but without a token, gets nothing of it.
    const intruder = await as(bob)
    expect(await subscribe(intruder, room)).toMatchObject({ code: 'FORBIDDEN' })
    await publishOn(server.url, ADMIN_KEY, room, { n: 2 })
    await socket.collect('publication', 2)
    await stillOpen(intruder)
    expect(publicationsOf(intruder, room)).toEqual([])
  })

  test('an expired token unsubscribes (TOKEN_EXPIRED) unless a fresh subscribe with a new token came before', async () => {
    const room = 'private:rights-expiry'
    const socket = await as(alice)
    expect(await subscribe(socket, room, { token: await token(alice, room, 60) })).toMatchObject({
      type: 'subscribed',
    })
    // Renewed at 50 s with a token for 60 s more: the first expiry passes unnoticed.
    clock.advance(50_000)
    expect(await subscribe(socket, room, { token: await token(alice, room, 60) })).toMatchObject({
      type: 'subscribed',
    })
    clock.advance(20_000)
    await stillOpen(socket)
    expect(socket.messages.filter((m) => m.type === 'unsubscribed')).toEqual([])
    clock.advance(41_000)
    expect(await socket.next('unsubscribed')).toEqual({
      type: 'unsubscribed',
      channel: room,
      reason: 'TOKEN_EXPIRED',
    })
    await publishOn(server.url, ADMIN_KEY, room, { after: 'expiry' })
    await stillOpen(socket)
    expect(publicationsOf(socket, room)).toEqual([])
    // A token already expired is refused outright.
    const stale = await token(alice, room, 1)
    clock.advance(2000)
    expect(await subscribe(socket, room, { token: stale })).toMatchObject({ code: 'FORBIDDEN' })
  })

  test('history and presence over HTTP take the same rights', async () => {
    const room = 'private:rights-http'
    await publishOn(server.url, ADMIN_KEY, room, { secret: true })
    await publishOn(server.url, ADMIN_KEY, 'public:rights-http', { open: true })
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, { headers })
    for (const what of ['publications', 'presence']) {
      expect((await get(`/api/channels/public:rights-http/${what}`)).status).toBe(200)
      expect((await get(`/api/channels/${room}/${what}`)).status).toBe(401)
      expect((await get(`/api/channels/${room}/${what}`, bearer(alice.token))).status).toBe(403)
      const wrong = { ...bearer(bob.token), 'channel-token': await token(alice, room) }
      expect((await get(`/api/channels/${room}/${what}`, wrong)).status).toBe(403)
      const right = { ...bearer(alice.token), 'channel-token': await token(alice, room) }
      expect((await get(`/api/channels/${room}/${what}`, right)).status).toBe(200)
      const bad = await get(`/api/channels/nope/${what}`)
      expect(bad.status).toBe(422)
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_CHANNEL')
    }
    const history = await get(`/api/channels/${room}/publications`, {
      ...bearer(alice.token),
      'channel-token': await token(alice, room),
    })
    expect(((await history.json()) as { publications: { data: unknown }[] }).publications).toMatchObject([
      { channel: room, seq: 1, data: { secret: true } },
    ])
  })
})

describe('publishing', () => {
  test('a subscriber publishes on a private: channel: published with its ref after commit, and a publication with `from` for every subscriber', async () => {
    const room = 'private:publish-chat'
    const sender = await as(alice)
    const otherTab = await as(alice)
    const listener = await as(bob)
    for (const [socket, session] of [
      [sender, alice],
      [otherTab, alice],
      [listener, bob],
    ] as const)
      expect(await subscribe(socket, room, { token: await token(session, room) })).toMatchObject({
        type: 'subscribed',
      })
    sender.send({ type: 'publish', channel: room, data: { text: 'hello' }, ref: 'm-1' })
    expect(await sender.collect('published', 1)).toEqual([
      { type: 'published', channel: room, seq: 1, ref: 'm-1' },
    ])
    for (const socket of [sender, otherTab, listener]) {
      const [publication] = await socket.collect('publication', 1)
      expect(publication).toMatchObject({
        type: 'publication',
        channel: room,
        seq: 1,
        data: { text: 'hello' },
        from: { userId: alice.user.id, address: alice.user.address },
      })
    }
    // The admin API's publications carry no `from`.
    const stored = await publishOn(server.url, ADMIN_KEY, room, { system: true })
    expect(stored.seq).toBe(2)
    expect('from' in stored).toBe(false)
  })

  test('publishing is rate limited per user over all their connections; the socket stays open', async () => {
    const room = 'private:publish-rate'
    const first = await as(bob)
    const second = await as(bob)
    for (const socket of [first, second])
      expect(await subscribe(socket, room, { token: await token(bob, room) })).toMatchObject({
        type: 'subscribed',
      })
    // Two a second, bursts of four, shared by bob's connections.
    const refs = ['a', 'b', 'c', 'd', 'e']
    for (const [i, ref] of refs.entries())
      (i % 2 ? second : first).send({ type: 'publish', channel: room, data: { ref }, ref })
    const answers = await Promise.all(
      refs.map((ref, i) =>
        (i % 2 ? second : first).next((m) => (m.type === 'published' || m.type === 'error') && m.ref === ref),
      ),
    )
    expect(answers.map((m) => (m.type === 'error' ? m.code : m.type))).toEqual([
      'published',
      'published',
      'published',
      'published',
      'RATE_LIMITED',
    ])
    expect(answers[4]).toMatchObject({ channel: room, ref: 'e' })
    clock.advance(1000)
    first.send({ type: 'publish', channel: room, data: {}, ref: 'f' })
    expect(await first.next((m) => m.type === 'published' || m.type === 'error')).toMatchObject({
      type: 'published',
      ref: 'f',
    })
    await stillOpen(second)
  })
})

describe('bad input: the contract’s error naming the channel, the socket open, nothing stored', () => {
  test('names, rights, limits and sizes', async () => {
    const before = await storedPublications()
    const socket = await as(alice)
    const room = 'private:bad-input'
    const badNames = [
      '',
      'nope',
      'public:',
      'Public:x',
      'public:a b',
      `public:${'x'.repeat(194)}`,
      'token:0x12',
    ]
    for (const channel of badNames) {
      for (const message of [
        { type: 'subscribe', channel },
        { type: 'unsubscribe', channel },
        { type: 'publish', channel, data: 1 },
        { type: 'presence', channel },
      ]) {
        socket.send(message)
        expect(await socket.next('error')).toMatchObject({ code: 'INVALID_CHANNEL', channel })
      }
    }
    // Publishing where the namespace does not allow clients, or without a subscription.
    expect(await subscribe(socket, 'public:bad-input')).toMatchObject({ type: 'subscribed' })
    socket.send({ type: 'publish', channel: 'public:bad-input', data: { x: 1 }, ref: 'p' })
    expect(await socket.next('error')).toMatchObject({
      code: 'FORBIDDEN',
      channel: 'public:bad-input',
      ref: 'p',
    })
    socket.send({ type: 'publish', channel: room, data: { x: 1 } })
    expect(await socket.next('error')).toMatchObject({ code: 'FORBIDDEN', channel: room })
    socket.send({ type: 'presence', channel: 'public:elsewhere' })
    expect(await socket.next('error')).toMatchObject({ code: 'FORBIDDEN', channel: 'public:elsewhere' })
    // Oversized and unstorable publications.
    expect(await subscribe(socket, room, { token: await token(alice, room) })).toMatchObject({
      type: 'subscribed',
    })
    socket.send({ type: 'publish', channel: room, data: { text: 'x'.repeat(MAX_PUBLICATION_BYTES) } })
    expect(await socket.next('error')).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', channel: room })
    socket.send({ type: 'publish', channel: room, data: { text: '\u0000' } })
    expect(await socket.next('error')).toMatchObject({ code: 'INVALID_MESSAGE', channel: room })
    // More subscriptions than MAX_SUBSCRIPTIONS_PER_CONNECTION (3); the same channel again is no new one.
    expect(await subscribe(socket, 'public:bad-2')).toMatchObject({ type: 'subscribed' })
    expect(await subscribe(socket, 'public:bad-3')).toMatchObject({
      code: 'SUBSCRIPTION_LIMIT',
      channel: 'public:bad-3',
    })
    expect(await subscribe(socket, 'public:bad-2')).toMatchObject({ type: 'subscribed' })
    socket.send({ type: 'unsubscribe', channel: 'public:bad-2' })
    expect(await answerOn(socket, 'public:bad-2', ['unsubscribed'])).toEqual({
      type: 'unsubscribed',
      channel: 'public:bad-2',
      reason: 'client',
    })
    expect(await subscribe(socket, 'public:bad-3')).toMatchObject({ type: 'subscribed' })
    // Malformed channel messages are INVALID_MESSAGE.
    for (const message of [
      { type: 'subscribe' },
      { type: 'subscribe', channel: 5 },
      { type: 'subscribe', channel: 'public:x', since: -1 },
      { type: 'subscribe', channel: 'public:x', since: '1' },
      { type: 'subscribe', channel: 'public:x', token: '' },
      { type: 'publish', channel: room },
      { type: 'publish', channel: room, data: 1, ref: '' },
      { type: 'unsubscribe' },
      { type: 'presence', channel: null },
    ]) {
      socket.send(message)
      expect(await socket.next('error')).toMatchObject({ code: 'INVALID_MESSAGE' })
    }
    await stillOpen(socket)
    expect(await storedPublications()).toBe(before)
  })

  test('admin publishing: a bad name is 422 INVALID_CHANNEL, oversized data 413, unstorable data 422; nothing stored', async () => {
    const before = await storedPublications()
    const codeOf = async (response: Response) => [
      response.status,
      ((await response.json()) as { error: { code: string } }).error.code,
    ]
    expect(await codeOf(await adminPublish(server.url, ADMIN_KEY, 'nope:x', {}))).toEqual([
      422,
      'INVALID_CHANNEL',
    ])
    expect(
      await codeOf(
        await adminPublish(server.url, ADMIN_KEY, 'public:big', 'x'.repeat(MAX_PUBLICATION_BYTES)),
      ),
    ).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    expect(await codeOf(await adminPublish(server.url, ADMIN_KEY, 'public:nul', { a: '\u0000' }))).toEqual([
      422,
      'INVALID_INPUT',
    ])
    const unauthorized = await adminPublish(server.url, 'wrong-key-wrong-key', 'public:x', {})
    expect(unauthorized.status).toBe(401)
    expect(await storedPublications()).toBe(before)
  })

  test('subscription tokens: only for private: channels, ttl 1–86400, exactly one recipient, a known user', async () => {
    const statusOf = async (body: Record<string, unknown>) =>
      (await requestChannelToken(server.url, ADMIN_KEY, body)).status
    expect(await statusOf({ userId: alice.user.id, channel: 'private:t', ttlSeconds: 86_400 })).toBe(201)
    expect(await statusOf({ address: alice.user.address.toLowerCase(), channel: 'private:t' })).toBe(201)
    expect(await statusOf({ userId: alice.user.id, channel: 'private:t', ttlSeconds: 0 })).toBe(422)
    expect(await statusOf({ userId: alice.user.id, channel: 'private:t', ttlSeconds: 86_401 })).toBe(422)
    expect(await statusOf({ userId: alice.user.id, channel: 'public:t' })).toBe(422)
    expect(await statusOf({ userId: alice.user.id, channel: 'bad' })).toBe(422)
    expect(await statusOf({ channel: 'private:t' })).toBe(422)
    expect(await statusOf({ userId: alice.user.id, address: alice.user.address, channel: 'private:t' })).toBe(
      422,
    )
    expect(await statusOf({ userId: '999999', channel: 'private:t' })).toBe(404)
    const response = await requestChannelToken(server.url, ADMIN_KEY, {
      userId: alice.user.id,
      channel: 'private:t',
    })
    const body = (await response.json()) as { token: string; expiresAt: string }
    expect(Date.parse(body.expiresAt) - clock.now()).toBeGreaterThanOrEqual(3600_000)
    expect(Date.parse(body.expiresAt) - clock.now()).toBeLessThanOrEqual(3601_000)
  })
})

describe('presence on one instance', () => {
  test('three tabs of one user give one join; closing two gives no leave; closing the third gives one', async () => {
    const room = 'private:presence-tabs'
    const watcher = await as(bob)
    expect(await subscribe(watcher, room, { token: await token(bob, room) })).toMatchObject({
      type: 'subscribed',
    })
    await watcher.next('join')
    const tabs = [await as(alice), await as(alice), await as(alice)]
    const aliceToken = await token(alice, room)
    for (const tab of tabs)
      expect(await subscribe(tab, room, { token: aliceToken })).toMatchObject({ type: 'subscribed' })
    // The first tab hears its own join.
    expect(await tabs[0]!.next('join')).toEqual({
      type: 'join',
      channel: room,
      member: { userId: alice.user.id, address: alice.user.address },
    })
    watcher.send({ type: 'presence', channel: room })
    const presence = await watcher.next('presence')
    expect(presence).toEqual({
      type: 'presence',
      channel: room,
      members: expect.arrayContaining([
        { userId: bob.user.id, address: bob.user.address, connections: 1 },
        { userId: alice.user.id, address: alice.user.address, connections: 3 },
      ]),
    })
    expect((presence as unknown as { members: unknown[] }).members).toHaveLength(2)
    tabs[0]!.close()
    tabs[1]!.send({ type: 'unsubscribe', channel: room })
    await tabs[1]!.next('unsubscribed')
    await tabs[0]!.closed
    watcher.send({ type: 'presence', channel: room })
    expect(await watcher.next('presence')).toMatchObject({
      members: expect.arrayContaining([
        { userId: alice.user.id, address: alice.user.address, connections: 1 },
      ]),
    })
    tabs[2]!.close()
    const leave = await watcher.next('leave')
    expect(leave).toEqual({
      type: 'leave',
      channel: room,
      member: { userId: alice.user.id, address: alice.user.address },
    })
    await stillOpen(watcher)
    const joins = watcher.messages
      .filter((m) => m.type === 'join')
      .map((m) => (m as { member: { userId: string } }).member.userId)
    const leaves = watcher.messages.filter((m) => m.type === 'leave')
    expect(joins).toEqual([bob.user.id, alice.user.id])
    expect(leaves).toHaveLength(1)
  })

  test('counts-only channels answer users and connections; anonymous connections count in connections only', async () => {
    const channel = 'public:presence-counts'
    const anon = [await anonymous(), await anonymous()]
    for (const socket of anon) expect(await subscribe(socket, channel)).toMatchObject({ type: 'subscribed' })
    const signed = await as(alice)
    expect(await subscribe(signed, channel)).toMatchObject({ type: 'subscribed' })
    signed.send({ type: 'presence', channel })
    expect(await signed.next('presence')).toEqual({ type: 'presence', channel, users: 1, connections: 3 })
    // An anonymous subscriber that signs in counts as its user from then on.
    anon[0]!.send({ type: 'auth', token: bob.token })
    await anon[0]!.next('authenticated')
    anon[0]!.send({ type: 'presence', channel })
    expect(await anon[0]!.next('presence')).toEqual({ type: 'presence', channel, users: 2, connections: 3 })
    const http = await fetch(`${server.url}/api/channels/${channel}/presence`)
    expect(await http.json()).toEqual({ channel, users: 2, connections: 3 })
    // No join or leave on counts-only channels.
    expect(signed.messages.some((m) => m.type === 'join' || m.type === 'leave')).toBe(false)
  })
})

describe('history', () => {
  test('newest first, paged with before and nextBefore; limit 1–100', async () => {
    const channel = 'public:history-pages'
    for (let i = 1; i <= 5; i++) await publishOn(server.url, ADMIN_KEY, channel, { i })
    const page = async (query: string) => {
      const response = await fetch(`${server.url}/api/channels/${channel}/publications${query}`)
      return {
        status: response.status,
        body: (await response.json()) as { publications: { seq: number }[]; nextBefore: number | null },
      }
    }
    const first = await page('?limit=2')
    expect(first.body.publications.map((p) => p.seq)).toEqual([5, 4])
    expect(first.body.nextBefore).toBe(4)
    const second = await page(`?limit=2&before=${first.body.nextBefore}`)
    expect(second.body.publications.map((p) => p.seq)).toEqual([3, 2])
    const last = await page(`?limit=2&before=${second.body.nextBefore}`)
    expect(last.body.publications.map((p) => p.seq)).toEqual([1])
    expect(last.body.nextBefore).toBeNull()
    expect((await page('?limit=0')).status).toBe(422)
    expect((await page('?limit=101')).status).toBe(422)
    // A percent-encoded name is the same channel.
    const encoded = await fetch(
      `${server.url}/api/channels/${encodeURIComponent(channel)}/publications?limit=1`,
    )
    expect(((await encoded.json()) as { publications: { seq: number }[] }).publications[0]!.seq).toBe(5)
  })
})

describe('herald/admin against the channel routes', () => {
  test('publish and issueChannelToken: a retry with the same Idempotency-Key stores once; the token subscribes', async () => {
    const admin = createHeraldAdmin({ url: server.url, adminKey: ADMIN_KEY })
    const room = 'private:admin-client'
    const first = await admin.publish(room, { n: 1 }, { idempotencyKey: 'channel-publish-1' })
    const again = await admin.publish(room, { n: 1 }, { idempotencyKey: 'channel-publish-1' })
    expect(again).toEqual(first)
    expect(first.publication).toMatchObject({ channel: room, seq: 1, data: { n: 1 } })
    const { token } = await admin.issueChannelToken({
      address: alice.user.address,
      channel: room,
      ttlSeconds: 600,
    })
    const socket = await as(alice)
    expect(await subscribe(socket, room, { token, since: 0 })).toMatchObject({
      type: 'subscribed',
      seq: 1,
      replayed: 1,
    })
    expect(publicationsOf(socket, room).map((p) => p.data)).toEqual([{ n: 1 }])
  })
})
