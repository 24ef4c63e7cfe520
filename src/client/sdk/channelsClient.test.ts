import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { channelToken, publishOn } from '../../../test/helpers/channels'
import { range, until } from '../../../test/helpers/drill'
import { createTestDatabase } from '../../../test/helpers/testDatabase'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { signIn } from '../../../test/helpers/wallet'
import type { ChannelMember, Publication } from '../../shared/protocol'
import { HeraldChannelError } from './channelSubscriptions'
import { createHeraldClient, type HeraldClient, type HeraldClientOptions } from './createHeraldClient'

// The SDK's channels against a real Herald: subscribe, publications once each in order across reconnects and
// server restarts (the client subscribes again with `since` by itself), private channels with a token
// function, publish and presence, and refusals. The decisions are unit-tested in channels.test.ts.

const FAST = { minReconnectDelayMs: 50, maxReconnectDelayMs: 250 }
const clients: HeraldClient[] = []
const open = (options: HeraldClientOptions) => {
  const client = createHeraldClient({ ...FAST, ...options })
  clients.push(client)
  return client
}
const waitFor = (what: string, check: () => boolean, timeoutMs = 10_000) =>
  until(what, () => (check() ? true : undefined), timeoutMs, 10)

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect()
})

describe('channels in the SDK', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  }, 30_000)
  afterAll(async () => {
    await server?.stop()
  }, 30_000)

  test('an anonymous client subscribes to a public channel: every publication once, in order, and lastSeq', async () => {
    const client = open({ url: server.url })
    const received: Publication[] = []
    const subscription = client.subscribe('public:sdk-news', { onPublication: (p) => received.push(p) })
    await waitFor('live', () => subscription.state === 'live')
    for (let i = 1; i <= 5; i++) await publishOn(server.url, ADMIN_KEY, 'public:sdk-news', { i })
    await waitFor('5 publications', () => received.length === 5)
    expect(received.map((p) => p.seq)).toEqual(range(1, 5))
    expect(received.map((p) => p.data)).toEqual(range(1, 5).map((i) => ({ i })))
    expect(subscription.lastSeq).toBe(5)
    // Publishing where clients may not is refused, with the contract's code.
    const refused = await subscription.publish({ no: 1 }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(HeraldChannelError)
    expect(refused).toMatchObject({ code: 'FORBIDDEN', channel: 'public:sdk-news' })
    expect(await subscription.presence()).toEqual({ channel: 'public:sdk-news', users: 0, connections: 1 })
    subscription.unsubscribe()
    expect(subscription.state).toBe('closed')
    await publishOn(server.url, ADMIN_KEY, 'public:sdk-news', { after: true })
    const other = client.subscribe('public:sdk-news', {})
    await waitFor('live again', () => other.state === 'live')
    expect(received).toHaveLength(5)
  })

  test('a private channel with a token function: publish, presence with joins, and another user’s publication with `from`', async () => {
    const room = 'private:sdk-room'
    const alice = await signIn(server.url)
    const bob = await signIn(server.url)
    const joins: ChannelMember[] = []
    const aliceReceived: Publication[] = []
    const aliceClient = open({ url: server.url, getToken: () => alice.token })
    const aliceRoom = aliceClient.subscribe(room, {
      token: () => channelToken(server.url, ADMIN_KEY, alice.user.id, room),
      onPublication: (p) => aliceReceived.push(p),
      onJoin: (member) => joins.push(member),
    })
    await waitFor('alice live, and her own join', () => aliceRoom.state === 'live' && joins.length === 1)
    const bobClient = open({ url: server.url, getToken: () => bob.token })
    const bobRoom = bobClient.subscribe(room, {
      token: await channelToken(server.url, ADMIN_KEY, bob.user.id, room),
    })
    await waitFor('bob live', () => bobRoom.state === 'live')
    await waitFor('bob’s join', () => joins.length === 2)
    expect(joins.map((m) => m.userId).sort()).toEqual([alice.user.id, bob.user.id].sort())
    expect(await bobRoom.publish({ text: 'hi alice' })).toEqual({ seq: 1 })
    await waitFor('the publication', () => aliceReceived.length === 1)
    expect(aliceReceived[0]).toMatchObject({
      seq: 1,
      data: { text: 'hi alice' },
      from: { userId: bob.user.id },
    })
    const presence = await aliceRoom.presence()
    expect(presence).toMatchObject({ channel: room })
    if (!('members' in presence)) throw new Error('a private channel answers members')
    expect(presence.members.map((m) => m.userId).sort()).toEqual([alice.user.id, bob.user.id].sort())
  })

  test('refusals end the subscription with the reason: no token, a bad name', async () => {
    const client = open({ url: server.url, getToken: async () => (await signIn(server.url)).token })
    const ended: string[] = []
    client.subscribe('private:sdk-closed', { onEnded: (reason) => ended.push(reason) })
    client.subscribe('nope', { onEnded: (reason) => ended.push(reason) })
    await waitFor('two refusals', () => ended.length === 2)
    expect(ended.sort()).toEqual(['FORBIDDEN', 'INVALID_CHANNEL'])
  })
})

test('after server restarts the client subscribes again by itself: every publication once, in order', async () => {
  const database = await createTestDatabase()
  let current: TestServer | null = await startTestServer({}, { database, keepDatabase: true })
  try {
    const url = current.url
    const port = String(current.herald.port)
    const channel = 'public:sdk-restarts'
    const client = open({ url })
    const received: number[] = []
    const subscribedAt: number[] = []
    const subscription = client.subscribe(channel, {
      onPublication: (p) => received.push(p.seq),
      onSubscribed: (m) => subscribedAt.push(m.seq),
    })
    await waitFor('live', () => subscription.state === 'live')
    let last = 0
    for (let n = 0; n < 3; n++) last = (await publishOn(url, ADMIN_KEY, channel, { n })).seq
    await waitFor('the first three', () => received.length === 3)
    for (let round = 0; round < 3; round++) {
      await current.stop()
      current = null
      await waitFor('the client to notice', () => client.state === 'reconnecting')
      // Stored while it is down, by another instance on the same database.
      const other = await startTestServer({}, { database, keepDatabase: true })
      try {
        for (let k = 0; k < 2; k++) last = (await publishOn(other.url, ADMIN_KEY, channel, { round, k })).seq
      } finally {
        await other.stop()
      }
      current = await startTestServer({ PORT: port }, { database, keepDatabase: true })
      // Racing the client's reconnect and its subscribe's replay.
      for (let k = 0; k < 3; k++) last = (await publishOn(url, ADMIN_KEY, channel, { round, after: k })).seq
      await waitFor(`publications up to ${last} (have ${received})`, () => received.length >= last)
    }
    const server = current
    await waitFor('live', () => subscription.state === 'live')
    // A ping's answer: anything the server sent before it (a duplicate) has arrived.
    let pong = false
    const off = client.on('message', (m) => {
      if (m.type === 'pong') pong = true
    })
    client.send({ type: 'ping' })
    await waitFor('pong', () => pong)
    off()
    expect(received).toEqual(range(1, last))
    expect(subscription.lastSeq).toBe(last)
    // The first subscribe started "now" (0); each one after a restart from where the client was.
    expect(subscribedAt.length).toBe(4)
    expect(subscribedAt[0]).toBe(0)
    expect(server).not.toBeNull()
  } finally {
    await current?.stop()
    await database.close()
  }
}, 60_000)
