import { afterAll, beforeAll, expect, test } from 'bun:test'
import fc from 'fast-check'
import { checkProperty } from '../../../test/helpers/fuzz'
import { runInboxSteps, steps } from '../../../test/helpers/inboxProperty'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'

// Counts that cannot drift (issue 16 item 5, docs/protocol.md §7): random changes over four tabs on two
// devices; after every step every tab's counts equal the database's. The bigger run is
// inboxCounts.property.long.test.ts. HERALD_FUZZ_SEED replays a failure.

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

test('every tab’s pushed counts equal the database’s after every step', async () => {
  let totalChanges = 0
  const { numRuns } = await checkProperty(
    'inbox counts',
    fc.asyncProperty(steps(30), async (plan) => {
      totalChanges += (await runInboxSteps(server, plan, 2)).changes
    }),
    { numRuns: 12, timeLimitMs: 12_000 },
  )
  expect(numRuns).toBeGreaterThanOrEqual(1)
  expect(totalChanges).toBeGreaterThan(0)
}, 60_000)
