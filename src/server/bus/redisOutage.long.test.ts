import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  connectResumed,
  DRILL_ADMIN_KEY,
  expectExactlyOnce,
  seqsOf,
  tempDirs,
  tryPublish,
  within,
} from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { redisAnswers, TEST_REDIS } from '../../../test/helpers/redis'
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcpProxy'
import { createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { signIn } from '../../../test/helpers/wallet'
import type { TestSocket } from '../../../test/helpers/wsClient'

/**
 * Redis, the bus of BUS=redis, goes away under a real Herald process (through a TCP proxy the test cuts)
 * while a client is connected. A notification created meanwhile is stored, so it is answered 201 at once:
 * not an error that a caller would retry (storing it twice), and not a request held until Redis is back.
 * The client gets it exactly once, in seq order, once Redis is back.
 *
 * Needs PostgreSQL (HERALD_TEST_DATABASE_URL; BUS=redis needs DATABASE_URL) and Redis at 127.0.0.1:6379.
 */

const redisUp = usingPostgres() ? await redisAnswers() : false

describe.skipIf(!redisUp)('Redis unreachable under BUS=redis (needs PostgreSQL and Redis)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>> | undefined
  let proxy: TcpProxy | undefined
  let herald: HeraldProcess | undefined
  const dirs = tempDirs('herald-redis-outage-')
  const sockets: TestSocket[] = []

  beforeAll(async () => {
    database = await createTestDatabaseUrl()
    proxy = await startTcpProxy(TEST_REDIS)
    herald = await spawnHerald(
      {
        DATABASE_URL: database.url,
        DATA_DIR: dirs.make(),
        BUS: 'redis',
        REDIS_URL: proxy.url(TEST_REDIS.url),
        // Its own channel: another Herald on this Redis (another test run) must not see these events.
        REDIS_CHANNEL: `herald:test:${crypto.randomUUID()}`,
        HERALD_ADMIN_KEY: DRILL_ADMIN_KEY,
      },
      { label: 'redis-outage' },
    )
  }, 60_000)

  afterAll(async () => {
    for (const socket of sockets) socket.close()
    await herald?.kill('SIGKILL')
    await proxy?.stop()
    await database?.drop()
    dirs.cleanup()
  }, 30_000)

  test('a notification stored while Redis is away is answered 201 at once and delivered once when it is back', async () => {
    const session = await signIn(herald!.url)
    const socket = await connectResumed(herald!.wsUrl, session.token)
    sockets.push(socket)
    const before = await tryPublish(herald!.url, session.user.id, 'before')
    expect(before.ok).toBe(true)
    await expectExactlyOnce('live before the outage', () => seqsOf(socket), 1)

    proxy!.cut('refuse')
    const started = performance.now()
    const during = await within(
      tryPublish(herald!.url, session.user.id, 'during'),
      5000,
      'the answer to a publish while Redis is away',
    )
    expect(during).toMatchObject({ ok: true, notification: { seq: 2 } })
    expect(performance.now() - started).toBeLessThan(5000)

    proxy!.restore()
    // Whether the announcement was queued until the publisher reconnected or lost, the client ends up
    // with seq 2 once (the subscriber's resync after its reconnect, or the gap seq 3 reveals) and seq 3.
    let after = await tryPublish(herald!.url, session.user.id, 'after')
    for (let i = 0; !after.ok && i < 50; i++) {
      await Bun.sleep(100)
      after = await tryPublish(herald!.url, session.user.id, 'after')
    }
    expect(after).toMatchObject({ ok: true, notification: { seq: 3 } })
    await expectExactlyOnce('after the outage', () => seqsOf(socket), 3)
  }, 45_000)
})
