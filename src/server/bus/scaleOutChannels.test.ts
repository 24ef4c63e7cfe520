import { afterAll, describe, expect, test } from 'bun:test'
import {
  channelToken,
  publicationSeqs,
  publishOn,
  stillOpen,
  subscribe,
} from '../../../test/helpers/channels'
import { range, until } from '../../../test/helpers/drill'
import { useHeraldPair } from '../../../test/helpers/heraldPair'
import type { HeraldProcess } from '../../../test/helpers/heraldProcess'
import { redisAnswers, TEST_REDIS } from '../../../test/helpers/redis'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'

/**
 * Channels across instances, as real OS processes on one PostgreSQL: two ROLE=server instances with the
 * PostgreSQL bus, then with the Redis bus. Publications through both instances reach every subscriber on both,
 * once each and in order; a subscriber moves to the other instance with `since`; a subscription token from one
 * instance works on the other; presence joins and leaves once per user over the cluster.
 * Only with HERALD_TEST_DATABASE_URL; the Redis part also needs Redis at 127.0.0.1:6379.
 */

const ADMIN_KEY = 'channels-scale-admin-key-0123456789'
const CHANNEL_TOKEN_SECRET = 'channels-scale-token-secret-0123456789abcdef'
const redisUp = usingPostgres() ? await redisAnswers() : false
const sockets: TestSocket[] = []

afterAll(() => {
  for (const socket of sockets) socket.close()
})

async function anonymous(wsUrl: string) {
  const socket = connectSocket(wsUrl)
  sockets.push(socket)
  await socket.next('connected')
  return socket
}
async function as(wsUrl: string, session: Session) {
  const socket = await connectAuthenticated(wsUrl, session.token)
  sockets.push(socket)
  return socket
}
async function expectSeqs(socket: TestSocket, channel: string, expected: number[]) {
  await until(
    `${expected.length} publications of ${channel}`,
    () => (publicationSeqs(socket, channel).length >= expected.length ? true : undefined),
    20_000,
  )
  await stillOpen(socket)
  expect(publicationSeqs(socket, channel)).toEqual(expected)
}

/** The checks both buses must pass, on instances `a` and `b`. */
function channelChecks(instances: () => [HeraldProcess, HeraldProcess], tag: string) {
  const output = () =>
    instances()
      .map((p) => p.output())
      .join('\n')
  const diagnose = async (body: () => Promise<void>) => {
    try {
      await body()
    } catch (error) {
      console.error(output())
      throw error
    }
  }

  test(
    '200 concurrent publications through both instances arrive 1..200 exactly once on every subscriber',
    () =>
      diagnose(async () => {
        const [a, b] = instances()
        const channel = `public:${tag}-storm`
        const list = [
          await anonymous(a.wsUrl),
          await anonymous(a.wsUrl),
          await anonymous(b.wsUrl),
          await anonymous(b.wsUrl),
        ]
        for (const socket of list)
          expect(await subscribe(socket, channel)).toMatchObject({ type: 'subscribed' })
        const stored = await Promise.all(
          range(1, 200).map((i) => publishOn(i % 2 ? a.url : b.url, ADMIN_KEY, channel, { i })),
        )
        expect(stored.map((p) => p.seq).sort((x, y) => x - y)).toEqual(range(1, 200))
        for (const socket of list) await expectSeqs(socket, channel, range(1, 200))
      }),
    60_000,
  )

  test(
    'a subscriber that leaves A and subscribes on B with since gets exactly what it missed, then live',
    () =>
      diagnose(async () => {
        const [a, b] = instances()
        const channel = `public:${tag}-move`
        const onA = await anonymous(a.wsUrl)
        expect(await subscribe(onA, channel)).toMatchObject({ type: 'subscribed', seq: 0 })
        for (let i = 1; i <= 5; i++) await publishOn(b.url, ADMIN_KEY, channel, { i })
        await expectSeqs(onA, channel, range(1, 5))
        onA.close()
        for (let i = 6; i <= 30; i++) await publishOn(i % 2 ? a.url : b.url, ADMIN_KEY, channel, { i })
        const onB = await anonymous(b.wsUrl)
        expect(await subscribe(onB, channel, { since: 5 })).toMatchObject({
          type: 'subscribed',
          seq: 30,
          replayed: 25,
        })
        await publishOn(a.url, ADMIN_KEY, channel, { live: true })
        await expectSeqs(onB, channel, range(6, 31))
      }),
    30_000,
  )

  test(
    'presence over both instances: three tabs of one user give one join, closing two no leave, the third one',
    () =>
      diagnose(async () => {
        const [a, b] = instances()
        const room = `private:${tag}-presence`
        const alice = await signIn(a.url)
        const bob = await signIn(b.url)
        // A token issued by one instance works on the other: they share CHANNEL_TOKEN_SECRET.
        const bobToken = await channelToken(a.url, ADMIN_KEY, bob.user.id, room)
        const aliceToken = await channelToken(b.url, ADMIN_KEY, alice.user.id, room)
        const watchers = [await as(a.wsUrl, bob), await as(b.wsUrl, bob)]
        for (const watcher of watchers)
          expect(await subscribe(watcher, room, { token: bobToken })).toMatchObject({ type: 'subscribed' })
        const tabs = [await as(a.wsUrl, alice), await as(b.wsUrl, alice), await as(b.wsUrl, alice)]
        for (const tab of tabs)
          expect(await subscribe(tab, room, { token: aliceToken })).toMatchObject({ type: 'subscribed' })
        const joinsOf = (socket: TestSocket) =>
          socket.messages.filter(
            (m) => m.type === 'join' && (m as { member: { userId: string } }).member.userId === alice.user.id,
          )
        const leavesOf = (socket: TestSocket) =>
          socket.messages.filter(
            (m) =>
              m.type === 'leave' && (m as { member: { userId: string } }).member.userId === alice.user.id,
          )
        for (const watcher of watchers)
          await until('alice joins', () => (joinsOf(watcher).length > 0 ? true : undefined))
        // Every instance counts alice's three connections as one member (the other instance's count arrives a
        // bus message after the join).
        const aliceConnections = async (watcher: TestSocket) => {
          watcher.send({ type: 'presence', channel: room })
          const answer = (await watcher.next('presence')) as unknown as {
            members: { userId: string; address: string; connections: number }[]
          }
          return answer.members.find((m) => m.userId === alice.user.id)
        }
        for (const watcher of watchers)
          expect(
            await until('three connections of alice', async () => {
              const member = await aliceConnections(watcher)
              return member?.connections === 3 ? member : undefined
            }),
          ).toEqual({ userId: alice.user.id, address: alice.user.address, connections: 3 })
        tabs[0]!.close()
        tabs[1]!.close()
        await Promise.all([tabs[0]!.closed, tabs[1]!.closed])
        for (const watcher of watchers)
          await until('alice down to one connection', async () =>
            (await aliceConnections(watcher))?.connections === 1 ? true : undefined,
          )
        tabs[2]!.close()
        for (const watcher of watchers)
          await until('alice leaves', () => (leavesOf(watcher).length > 0 ? true : undefined))
        for (const watcher of watchers) await stillOpen(watcher)
        for (const watcher of watchers) {
          expect(joinsOf(watcher)).toHaveLength(1)
          expect(leavesOf(watcher)).toHaveLength(1)
        }
        // And over HTTP, from either instance.
        const http = await fetch(`${b.url}/api/channels/${room}/presence`, {
          headers: { authorization: `Bearer ${bob.token}`, 'channel-token': bobToken },
        })
        expect(await http.json()).toEqual({
          channel: room,
          users: 1,
          connections: 2,
          members: [{ userId: bob.user.id, address: bob.user.address, connections: 2 }],
        })
      }),
    30_000,
  )
}

const shared = {
  CHANNEL_TOKEN_SECRET,
  ROLE: 'server',
  // The tests publish faster than a client would.
  ADMIN_RATE_PER_SECOND: '100000',
  WS_CONNECTIONS_PER_SECOND_PER_IP: '1000',
}

describe.skipIf(!usingPostgres())('channels on two servers (PostgreSQL LISTEN/NOTIFY bus)', () => {
  const pair = useHeraldPair(ADMIN_KEY, { ...shared, BUS: 'postgres' })
  channelChecks(() => [pair.a, pair.b], 'pg')
})

describe.skipIf(!redisUp)('channels on two servers (Redis bus)', () => {
  const pair = useHeraldPair(ADMIN_KEY, {
    ...shared,
    BUS: 'redis',
    REDIS_URL: TEST_REDIS.url,
    // Our own pub/sub channel: every Herald on this Redis (another test run) would share the default.
    REDIS_CHANNEL: `herald:test:${crypto.randomUUID()}`,
  })
  channelChecks(() => [pair.a, pair.b], 'redis')
})

// Sharded pub/sub: each instance receives only the channels it has subscribers for (and its users' shards);
// the same checks must hold, the channel followed before its first subscriber is answered.
describe.skipIf(!redisUp)('channels on two servers (Redis bus, sharded pub/sub)', () => {
  const pair = useHeraldPair(ADMIN_KEY, {
    ...shared,
    BUS: 'redis',
    REDIS_URL: TEST_REDIS.url,
    REDIS_CHANNEL: `herald:test:${crypto.randomUUID()}`,
    REDIS_SHARDED_PUBSUB: 'true',
  })
  channelChecks(() => [pair.a, pair.b], 'redis-sharded')
})
