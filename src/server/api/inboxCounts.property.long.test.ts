import { afterAll, beforeAll, expect, test } from 'bun:test'
import fc from 'fast-check'
import { checkProperty } from '../../../test/helpers/fuzz'
import { runInboxSteps, steps } from '../../../test/helpers/inboxProperty'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'

// The bigger run of inboxCounts.property.test.ts: longer sequences, three tabs on each of two devices.

let server: TestServer
beforeAll(async () => {
  // Each run signs in twice (two devices), opens a socket per tab and publishes a lot: more than the default
  // budgets of one address allow.
  server = await startTestServer({
    AUTH_RATE_PER_MINUTE: '100000',
    ADMIN_RATE_PER_SECOND: '100000',
    WS_CONNECTIONS_PER_SECOND_PER_IP: '100000',
  })
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

test('every tab’s pushed counts equal the database’s after every step (long)', async () => {
  let totalChanges = 0
  const { numRuns } = await checkProperty(
    'inbox counts (long)',
    fc.asyncProperty(steps(150), async (plan) => {
      totalChanges += (await runInboxSteps(server, plan, 3)).changes
    }),
    { numRuns: 30, timeLimitMs: 120_000 },
  )
  expect(numRuns).toBeGreaterThanOrEqual(1)
  expect(totalChanges).toBeGreaterThan(0)
}, 300_000)
