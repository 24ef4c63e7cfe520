import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createManualClock } from '../../../test/helpers/manualClock'
import { createTestDatabase, usingPostgres } from '../../../test/helpers/testDatabase'
import type { DatabaseHandle } from '../db/openDatabase'
import { users } from '../db/schema'
import { type SqlRunner, sqlRunner } from '../db/sqlRunner'
import { createConnectionRegistry } from './connectionRegistry'

const TTL = 30

let database: DatabaseHandle
let runner: SqlRunner
let userIds: string[]

beforeAll(async () => {
  database = await createTestDatabase()
  runner = sqlRunner(database.db)
  const rows = await database.db
    .insert(users)
    .values(Array.from({ length: 300 }, () => ({ address: `0x${crypto.randomUUID().replaceAll('-', '')}` })))
    .returning({ id: users.id })
  userIds = rows.map((row) => String(row.id))
}, 30_000)
afterAll(async () => {
  await database.close()
}, 30_000)

describe('connection registry', () => {
  // Two instances writing hundreds of users' rows while both beat (each beat updates all of its rows and
  // removes stale ones): the writes of a restart storm used to deadlock with the heartbeat's update.
  test.skipIf(!usingPostgres())(
    'writes and heartbeats of two instances never deadlock, and every count lands',
    async () => {
      const clock = createManualClock()
      const errors: unknown[] = []
      const onError = (error: unknown) => errors.push(error)
      const a = createConnectionRegistry({ runner, clock, ttlSeconds: TTL, onError })
      const b = createConnectionRegistry({ runner, clock, ttlSeconds: TTL, onError })
      a.start()
      b.start()
      const last = new Map<string, number>()
      for (let round = 0; round < 40; round++) {
        for (const [k, userId] of userIds.entries()) {
          const count = (k + round) % 3
          a.changed(userId, count)
          b.changed(userId, count)
          last.set(userId, count)
          // Beats in the middle of the writes, on both instances.
          if (k % 100 === 50) clock.advance(TTL * 1000)
        }
        await Promise.all([a.settled(), b.settled()])
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
      await Promise.all([a.settled(), b.settled()])
      expect(errors).toEqual([])
      for (const userId of userIds.slice(0, 30)) expect(await a.count(userId)).toBe(2 * last.get(userId)!)
      await Promise.all([a.stop(), b.stop()])
    },
    60_000,
  )

  test('a write that fails is written again, not lost', async () => {
    const clock = createManualClock()
    const errors: unknown[] = []
    let failNext = true
    const flaky: SqlRunner = {
      ...runner,
      query: (text, params) => {
        if (failNext && text.includes('insert into user_connections')) {
          failNext = false
          return Promise.reject(new Error('the database went away for a moment'))
        }
        return runner.query(text, params)
      },
    }
    const registry = createConnectionRegistry({
      runner: flaky,
      clock,
      ttlSeconds: TTL,
      onError: (error) => errors.push(error),
    })
    registry.start()
    const userId = userIds[0]!
    registry.changed(userId, 2)
    await registry.settled()
    expect(errors.length).toBe(1)
    expect(await registry.count(userId)).toBe(0)
    clock.advance(1000)
    await registry.settled()
    expect(await registry.count(userId)).toBe(2)
    await registry.stop()
  })
})
