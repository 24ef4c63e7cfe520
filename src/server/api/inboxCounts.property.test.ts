import { afterAll, beforeAll, expect, test } from 'bun:test'
import { checkInboxCounts, INBOX_PROPERTY_ENV } from '../../../test/helpers/inboxProperty'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'

// Counts that cannot drift (issue 16 item 5, docs/protocol.md §7): random changes over four tabs on two
// devices; after every step every tab's counts equal the database's. The bigger run is
// inboxCounts.property.long.test.ts. HERALD_FUZZ_SEED replays a failure.

let server: TestServer
beforeAll(async () => {
  server = await startTestServer(INBOX_PROPERTY_ENV)
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

test('every tab’s pushed counts equal the database’s after every step', async () => {
  const { numRuns, changes } = await checkInboxCounts(server, {
    name: 'inbox counts',
    maxSteps: 30,
    tabs: 2,
    numRuns: 12,
    timeLimitMs: 12_000,
  })
  expect(numRuns).toBeGreaterThanOrEqual(1)
  expect(changes).toBeGreaterThan(0)
}, 60_000)
