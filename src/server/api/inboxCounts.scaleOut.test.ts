import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { checkProperty } from '../../../test/helpers/fuzz'
import { type HeraldPair, startHeraldPair } from '../../../test/helpers/heraldPair'
import { COUNTS_SQL, type InboxTarget, runInboxSteps, steps } from '../../../test/helpers/inboxProperty'
import { redisAnswers, TEST_REDIS } from '../../../test/helpers/redis'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { ADMIN_KEY } from '../../../test/helpers/testServer'

// The property of inboxCounts.property.test.ts over two instances of one deployment: each device calls its own
// instance and the tabs are spread over both, so every state change reaches the other instance's tabs over the
// bus (PostgreSQL LISTEN/NOTIFY, and Redis, whose announcements after the commit may arrive out of order: the
// `version` of each count puts them back). PostgreSQL only (two processes share the database).

const redisUp = usingPostgres() ? await redisAnswers() : false
const budgets = { AUTH_RATE_PER_MINUTE: '100000', ADMIN_RATE_PER_SECOND: '100000', ROLE: 'server' }

function pairTarget(pair: HeraldPair): InboxTarget {
  return {
    instances: [pair.a, pair.b],
    publish: (body) =>
      fetch(`${pair.a.url}/api/admin/notifications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    async counts(userId) {
      const [row] = await pair.sql.unsafe<{ unreadCount: number; unseenCount: number }[]>(COUNTS_SQL, [
        userId,
      ])
      return { unreadCount: Number(row!.unreadCount), unseenCount: Number(row!.unseenCount) }
    },
  }
}

for (const bus of ['postgres', 'redis'] as const) {
  describe.skipIf(!usingPostgres() || (bus === 'redis' && !redisUp))(`two instances, ${bus} bus`, () => {
    let pair: HeraldPair
    beforeAll(async () => {
      pair = await startHeraldPair(ADMIN_KEY, {
        ...budgets,
        BUS: bus,
        ...(bus === 'redis' ? { REDIS_URL: TEST_REDIS.url } : {}),
      })
    }, 60_000)
    afterAll(async () => {
      await pair?.stop()
    }, 30_000)

    test('every tab’s pushed counts equal the database’s after every step, whichever instance it is on', async () => {
      let changes = 0
      const { numRuns } = await checkProperty(
        `inbox counts over two instances (${bus})`,
        fc.asyncProperty(steps(25), async (plan) => {
          changes += (await runInboxSteps(pairTarget(pair), plan, 2)).changes
        }),
        { numRuns: 6, timeLimitMs: 6_000 },
      )
      expect(numRuns).toBeGreaterThanOrEqual(1)
      expect(changes).toBeGreaterThan(0)
    }, 60_000)
  })
}
