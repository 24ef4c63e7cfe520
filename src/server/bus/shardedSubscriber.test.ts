import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { RedisClient } from 'bun'
import { redisAnswers, TEST_REDIS } from '../../../test/helpers/redis'
import { until } from '../../../test/helpers/until'
import { connectShardedSubscriber, type ShardedSubscriber } from './shardedSubscriber'

// The sharded subscriber against a real Redis 7: a subscription resolves once confirmed, messages of every size
// arrive whole (a large one spans many socket reads, several small ones share one), only the followed shard
// channels arrive, an unsubscribed one stops, and a killed connection is reported. Skipped without Redis.

const redisUp = await redisAnswers()
const prefix = `herald:test:${crypto.randomUUID()}`
const name = `herald-test-shards-${crypto.randomUUID().slice(0, 8)}`

describe.skipIf(!redisUp)('the Redis sharded subscriber', () => {
  let publisher: RedisClient
  let subscriber: ShardedSubscriber
  const received: [string, string][] = []
  const closed: Error[] = []

  beforeAll(async () => {
    publisher = new RedisClient(TEST_REDIS.url)
    await publisher.connect()
    subscriber = await connectShardedSubscriber({
      url: TEST_REDIS.url,
      name,
      onMessage: (channel, payload) => received.push([channel, payload]),
      onClose: (error) => closed.push(error),
    })
  })
  afterAll(() => {
    subscriber?.close()
    publisher?.close()
  })

  const spublish = (channel: string, payload: string) => publisher.send('SPUBLISH', [channel, payload])

  test('only followed shard channels arrive, whole, in order, whatever their size', async () => {
    await subscriber.subscribe(`${prefix}:a`)
    await subscriber.subscribe(`${prefix}:b`)
    const large = `{"x":"${'é'.repeat(150_000)}"}`
    const sent: [string, string][] = [
      [`${prefix}:a`, 'one'],
      [`${prefix}:c`, 'not followed'],
      [`${prefix}:b`, large],
      [`${prefix}:a`, 'two\r\nwith a line break'],
    ]
    for (const [channel, payload] of sent) await spublish(channel, payload)
    await until('three messages', () => (received.length >= 3 ? true : undefined))
    expect(received).toEqual([sent[0]!, sent[2]!, sent[3]!])

    subscriber.unsubscribe(`${prefix}:a`)
    await Bun.sleep(50)
    expect(Number(await spublish(`${prefix}:a`, 'after'))).toBe(0)
    await spublish(`${prefix}:b`, 'still')
    await until('the fourth message', () => (received.length >= 4 ? true : undefined))
    expect(received[3]).toEqual([`${prefix}:b`, 'still'])
  })

  test('a connection killed by Redis is reported (the bus reconnects and resyncs)', async () => {
    // Only this test's connection (others may share this Redis), found by its name.
    const list = String(await publisher.send('CLIENT', ['LIST']))
    const line = list.split('\n').find((l) => l.includes(` name=${name} `))
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1]
    expect(id).toBeDefined()
    await publisher.send('CLIENT', ['KILL', 'ID', id!])
    await until('the close reported', () => (closed.length > 0 ? true : undefined))
  })
})
