import { afterAll, beforeAll, expect, test } from 'bun:test'
import { checkInboxCounts, INBOX_PROPERTY_ENV } from '../../../test/helpers/inboxProperty'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'

// The bigger run of inboxCounts.property.test.ts: longer sequences, three tabs on each of two devices.

let server: TestServer
beforeAll(async () => {
  server = await startTestServer(INBOX_PROPERTY_ENV)
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

test('every tab’s pushed counts equal the database’s after every step (long)', async () => {
  const { numRuns, changes } = await checkInboxCounts(server, {
    name: 'inbox counts (long)',
    maxSteps: 150,
    tabs: 3,
    numRuns: 30,
    timeLimitMs: 120_000,
  })
  expect(numRuns).toBeGreaterThanOrEqual(1)
  expect(changes).toBeGreaterThan(0)
}, 300_000)
