import { afterAll, describe, expect, test } from 'bun:test'
import { RedisClient } from 'bun'
import { redisAnswers, TEST_REDIS } from '../../../test/helpers/redis'
import { until } from '../../../test/helpers/until'
import { userTopic } from './busTopics'
import { createRedisBus } from './createRedisBus'
import type { Bus, BusEvent } from './types'

// The Redis bus with sharded pub/sub, two buses on one real Redis as two instances would have: an event reaches
// only the bus that follows its topic; events without a topic reach both; following answers null once
// confirmed; a sharded connection killed by Redis comes back with its topics, and the listeners resync.

const redisUp = await redisAnswers()
const channel = `herald:test:${crypto.randomUUID()}`
const buses: Bus[] = []
afterAll(async () => {
  for (const bus of buses) await bus.stop()
})

async function startBus() {
  const events: BusEvent[] = []
  let resyncs = 0
  const errors: unknown[] = []
  const bus = createRedisBus({ url: TEST_REDIS.url, channel, sharded: true, onError: (e) => errors.push(e) })
  buses.push(bus)
  bus.subscribe({ onEvent: (event) => events.push(event), onResync: () => resyncs++ })
  await bus.start()
  return { bus, events, resyncs: () => resyncs, errors }
}

const publication = (key: string, seq: number): BusEvent => ({
  kind: 'item',
  stream: 'channel',
  key,
  item: { seq },
})

describe.skipIf(!redisUp)('the Redis bus, sharded', () => {
  test('only the follower receives a channel event; broadcasts reach both; a follow already confirmed is null', async () => {
    const a = await startBus()
    const b = await startBus()
    await a.bus.follow!('c:public:x')
    expect(a.bus.follow!('c:public:x')).toBeNull()
    await b.bus.announce(publication('public:x', 1))
    await b.bus.announce({ kind: 'broadcast', message: { type: 'system', message: 'hi' } as never })
    await until('a has both', () => (a.events.length >= 2 ? true : undefined))
    await until('b has the broadcast', () => (b.events.length >= 1 ? true : undefined))
    await Bun.sleep(100)
    expect(a.events.map((e) => e.kind)).toEqual(['item', 'broadcast'])
    expect(b.events.map((e) => e.kind)).toEqual(['broadcast'])
    // Two follows, one unfollow: still followed.
    a.bus.unfollow!('c:public:x')
    await b.bus.announce(publication('public:x', 2))
    await until('a has the second', () => (a.events.length >= 3 ? true : undefined))
    a.bus.unfollow!('c:public:x')
    await Bun.sleep(100)
    await b.bus.announce(publication('public:x', 3))
    await Bun.sleep(200)
    expect(a.events).toHaveLength(3)
  })

  test('a sharded connection killed by Redis comes back with its topics, and the listeners resync', async () => {
    const a = await startBus()
    const b = await startBus()
    await a.bus.follow!(userTopic('7'))
    const admin = new RedisClient(TEST_REDIS.url)
    await admin.connect()
    try {
      const list = String(await admin.send('CLIENT', ['LIST']))
      const ids = list
        .split('\n')
        .filter((line) => line.includes(` name=herald-bus-shards:${channel} `) && !/ssub=0\b/.test(line))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1])
      expect(ids.length).toBeGreaterThanOrEqual(1)
      for (const id of ids) await admin.send('CLIENT', ['KILL', 'ID', id!])
    } finally {
      admin.close()
    }
    await until('a resync', () => (a.resyncs() > 0 ? true : undefined), 10_000)
    await b.bus.announce({ kind: 'user', userId: '7', message: { type: 'pong' } as never })
    await until(
      'the user event after the reconnection',
      () => (a.events.some((e) => e.kind === 'user') ? true : undefined),
      10_000,
    )
  })
})
