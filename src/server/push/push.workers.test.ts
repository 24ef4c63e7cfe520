import { afterAll, beforeAll, expect, test } from 'bun:test'
import webpush from 'web-push'
import { until } from '../../../test/helpers/drill'
import {
  browserSubscription,
  startPushService,
  type TestPushService,
} from '../../../test/helpers/pushService'
import { createTestDatabase } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, signIn } from '../../../test/helpers/wallet'
import { QUEUES } from '../jobs/startJobBoss'
import type { PushJob } from './startPushWorkers'

// At most once per notification and subscription (docs/protocol.md §7), whichever worker sends it: two Herald
// instances on one database, each with its push workers, and every notification's job queued by both (as two
// instances that both heard its bus event would, were their job ids not the same).

let push: TestPushService
let a: TestServer
let b: TestServer
beforeAll(async () => {
  push = startPushService()
  const keys = webpush.generateVAPIDKeys()
  const env = {
    VAPID_PUBLIC_KEY: keys.publicKey,
    VAPID_PRIVATE_KEY: keys.privateKey,
    PUSH_ENDPOINT_HOSTS: '127.0.0.1',
    PUSH_RETRY_DELAY_MS: '20',
  }
  const database = await createTestDatabase()
  a = await startTestServer(env, { database, pushFetch: push.fetch })
  b = await startTestServer(env, { database, keepDatabase: true, pushFetch: push.fetch })
}, 60_000)
afterAll(async () => {
  await b?.stop()
  await a?.stop()
  await push?.stop()
}, 30_000)

test('two workers never push the same notification twice', async () => {
  const delivered: PushJob[] = []
  for (const server of [a, b])
    server.herald.testHooks.push.workers!.events.onDelivered = (job) => delivered.push(job)
  const session = await signIn(a.url)
  const browsers = [1, 2].map((n) => browserSubscription(`${push.origin}/push/twice-${n}`))
  for (const browser of browsers) {
    const response = await fetch(`${a.url}/api/push/subscriptions`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify(browser.json),
    })
    expect(response.status).toBe(201)
  }
  // One endpoint fails once first, so its retry overlaps the other worker's copy of the job.
  push.script('twice-1', [503])
  const count = 12
  for (let i = 0; i < count; i++) {
    const response = await a.publish({
      userId: session.user.id,
      type: 'twice',
      title: `n${i}`,
      message: 'once',
    })
    expect(response.status).toBe(201)
    const { notification } = (await response.json()) as { notification: { seq: number } }
    // The second copy, from the other instance's queue, without the shared id.
    await b.herald.testHooks.boss!.send(QUEUES.webPush, { userId: session.user.id, seq: notification.seq })
  }
  await until(
    'both copies of every job to run',
    () => (delivered.length >= 2 * count ? true : undefined),
    30_000,
  )
  for (const [n, browser] of browsers.entries()) {
    const accepted = push.requests.filter(
      (request) => request.path === `/push/twice-${n + 1}` && request.status === 201,
    )
    const titles = accepted.map(
      (request) => (JSON.parse(browser.decrypt(request.body)) as { title: string }).title,
    )
    expect(titles.sort()).toEqual(Array.from({ length: count }, (_, i) => `n${i}`).sort())
  }
})
