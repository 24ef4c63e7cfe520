import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { until } from '../../../test/helpers/drill'
import { metricValue } from '../../../test/helpers/metrics'
import {
  browserSubscription,
  startPushService,
  type TestPushService,
} from '../../../test/helpers/pushService'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated } from '../../../test/helpers/wsClient'
import { transact } from '../bus/transact'
import { sqlRunner } from '../db/sqlRunner'
import { createNotificationStore } from '../notifications/createNotificationStore'
import type { PushJob } from './startPushWorkers'

// Web Push (docs/protocol.md §7) end to end: a real Herald, a push service on 127.0.0.1 playing FCM's part, and
// a "browser" with its own P-256 key pair and auth secret that decrypts what arrives.

let push: TestPushService
let server: TestServer
beforeAll(async () => {
  push = startPushService()
  server = await startTestServer(
    // Development generates the VAPID keys into DATA_DIR; 127.0.0.1 is allowed for the test's push service.
    { NODE_ENV: 'development', PUSH_ENDPOINT_HOSTS: '127.0.0.1', PUSH_RETRY_DELAY_MS: '20' },
    { pushFetch: push.fetch },
  )
}, 30_000)
afterAll(async () => {
  await server?.stop()
  await push?.stop()
}, 30_000)

const api = (path: string, init: RequestInit & { token?: string; json?: unknown } = {}) =>
  fetch(`${server.url}${path}`, {
    ...init,
    headers: {
      ...(init.token ? bearer(init.token) : {}),
      ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
  })

const subscribe = (session: Session, body: unknown) =>
  api('/api/push/subscriptions', { method: 'POST', token: session.token, json: body })

let endpoints = 0
/** A browser subscription on the test push service, stored for the session's user. */
async function subscribed(session: Session) {
  const name = `e${++endpoints}`
  const browser = browserSubscription(`${push.origin}/push/${name}`)
  const response = await subscribe(session, browser.json)
  expect(response.status).toBe(201)
  return { name, browser, id: ((await response.json()) as { id: string }).id }
}

const publish = async (session: Session, extra: Record<string, unknown> = {}) => {
  const response = await server.publish({
    userId: session.user.id,
    type: 'token_deployed',
    title: 'Deployed',
    message: 'Your token is deployed',
    ...extra,
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as { notification: { id: string; seq: number } }).notification
}

const requestsTo = (name: string) => push.requests.filter((request) => request.path === `/push/${name}`)
const workers = () => server.herald.testHooks.push.workers!
const considered: { job: PushJob; decision: string }[] = []
beforeAll(() => {
  workers().events.onConsidered = (job, decision) => considered.push({ job, decision })
})
const delivered: { job: PushJob; outcomes: number }[] = []
beforeAll(() => {
  workers().events.onDelivered = (job, outcomes) => delivered.push({ job, outcomes: outcomes.size })
})
const deliveryOf = (userId: string, seq: number) =>
  until(`the push job of ${userId}/${seq}`, () =>
    delivered.find((entry) => entry.job.userId === userId && entry.job.seq === seq),
  )
const decisionFor = (userId: string, seq: number) =>
  until(
    `the push decision for ${userId}/${seq}`,
    () => considered.find((entry) => entry.job.userId === userId && entry.job.seq === seq)?.decision,
  )
const query = <Row>(text: string, params: unknown[] = []) =>
  sqlRunner(server.database.db).query<Row>(text, params)

describe('the VAPID key and the subscription routes', () => {
  test('the public key is a P-256 point, generated once into DATA_DIR', async () => {
    const response = await api('/api/push/vapid-public-key')
    expect(response.status).toBe(200)
    const { key } = (await response.json()) as { key: string }
    const point = Buffer.from(key, 'base64url')
    expect(point.length).toBe(65)
    expect(point[0]).toBe(4)
    expect(existsSync(join(server.herald.config.dataDir, 'vapid-keys.json'))).toBe(true)
  })

  test('subscribe → 201 {id}; the same endpoint again keeps its id; delete → 204, unknown included', async () => {
    const session = await signIn(server.url)
    const browser = browserSubscription(`${push.origin}/push/routes`)
    const first = await subscribe(session, browser.json)
    expect(first.status).toBe(201)
    const { id } = (await first.json()) as { id: string }
    expect(id).toMatch(/^[1-9][0-9]*$/)
    const again = await subscribe(session, { ...browser.json, expirationTime: 1_900_000_000_000 })
    expect(again.status).toBe(201)
    expect(await again.json()).toEqual({ id })
    const removed = await api('/api/push/subscriptions', {
      method: 'DELETE',
      token: session.token,
      json: { endpoint: browser.json.endpoint },
    })
    expect(removed.status).toBe(204)
    const unknown = await api('/api/push/subscriptions', {
      method: 'DELETE',
      token: session.token,
      json: { endpoint: `${push.origin}/push/never` },
    })
    expect(unknown.status).toBe(204)
  })

  test('an endpoint outside PUSH_ENDPOINT_HOSTS, or not https → 422; bad keys → 422; no session → 401', async () => {
    const session = await signIn(server.url)
    const good = browserSubscription(`${push.origin}/push/x`).json
    for (const endpoint of [
      'https://169.254.169.254/latest/meta-data',
      'https://localhost/push',
      'https://fcm.googleapis.com.evil.example/push',
      `http://127.0.0.1:${new URL(push.origin).port}/push/x`,
      'https://user:pass@127.0.0.1/push',
      'not a url',
    ]) {
      const response = await subscribe(session, { ...good, endpoint })
      expect(response.status, endpoint).toBe(422)
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('INVALID_INPUT')
    }
    expect((await subscribe(session, { ...good, keys: { ...good.keys, p256dh: 'AAAA' } })).status).toBe(422)
    // 65 bytes, 0x04 first, but not a point on the curve.
    const offCurve = Buffer.alloc(65, 1).fill(4, 0, 1).toString('base64url')
    expect((await subscribe(session, { ...good, keys: { ...good.keys, p256dh: offCurve } })).status).toBe(422)
    expect((await subscribe(session, { ...good, keys: { ...good.keys, auth: 'AAAA' } })).status).toBe(422)
    expect((await subscribe(session, { endpoint: good.endpoint })).status).toBe(422)
    expect((await api('/api/push/subscriptions', { method: 'POST', json: good })).status).toBe(401)
  })
})

describe('delivery', () => {
  test('an away user gets the notification, encrypted (aes128gcm) and signed (VAPID)', async () => {
    const session = await signIn(server.url)
    const { name, browser } = await subscribed(session)
    const notification = await publish(session, { data: { url: 'https://app.example/tokens/1', n: 1 } })
    const [request] = await until('the push', () =>
      requestsTo(name).length > 0 ? requestsTo(name) : undefined,
    )
    expect(request!.headers.ttl).toBe('86400')
    expect(request!.headers.urgency).toBe('normal')
    expect(request!.headers['content-encoding']).toBe('aes128gcm')
    expect(JSON.parse(browser.decrypt(request!.body))).toEqual({
      id: notification.id,
      seq: notification.seq,
      type: 'token_deployed',
      title: 'Deployed',
      message: 'Your token is deployed',
      url: 'https://app.example/tokens/1',
    })
    // RFC 8292: vapid t=<ES256 JWT>, k=<the key browsers were given>.
    const { key } = (await (await api('/api/push/vapid-public-key')).json()) as { key: string }
    const match = /^vapid t=([^,]+), k=(.+)$/.exec(request!.headers.authorization ?? '')
    expect(match?.[2]).toBe(key)
    expect(decodeProtectedHeader(match![1]!).alg).toBe('ES256')
    const claims = decodeJwt(match![1]!)
    expect(claims.aud).toBe(push.origin)
    expect(claims.sub).toBe('mailto:herald@localhost')
    expect(claims.exp! * 1000).toBeLessThanOrEqual(Date.now() + 24 * 3600 * 1000)
    expect(claims.exp! * 1000).toBeGreaterThan(Date.now())
  })

  test('a notification stored inside another transaction (a job step, the transfer watcher) is pushed after its commit', async () => {
    const session = await signIn(server.url)
    const { name, browser } = await subscribed(session)
    const { bus } = server.herald.testHooks
    const store = createNotificationStore({ db: server.database.db, bus })
    const stored = await transact(server.database.db, bus, (transaction) =>
      store.createIn(transaction, {
        userId: session.user.id,
        type: 'token_deployed',
        title: 'Your token is deployed',
        message: 'HRLD',
      }),
    )
    const [request] = await until('the push', () =>
      requestsTo(name).length > 0 ? requestsTo(name) : undefined,
    )
    expect(JSON.parse(browser.decrypt(request!.body))).toMatchObject({
      seq: stored!.seq,
      title: 'Your token is deployed',
    })
  })

  test('a batch publish is weighed at once: every away recipient with a subscription gets its push', async () => {
    const recipients = await Promise.all([1, 2, 3].map(() => signIn(server.url)))
    const subscriptions = await Promise.all(recipients.map((session) => subscribed(session)))
    const response = await fetch(`${server.url}/api/admin/notifications/batch`, {
      method: 'POST',
      headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({
        recipients: recipients.map((session) => ({ userId: session.user.id })),
        notification: { type: 'sale', title: 'Sale', message: '-20%' },
      }),
    })
    expect(response.status).toBe(201)
    for (const { name, browser } of subscriptions) {
      const [request] = await until('the push', () =>
        requestsTo(name).length > 0 ? requestsTo(name) : undefined,
      )
      expect(JSON.parse(browser.decrypt(request!.body))).toMatchObject({ title: 'Sale', seq: 1 })
    }
  })

  test('a user with an open socket gets no push; once it closes, the next one is pushed', async () => {
    const session = await signIn(server.url)
    const { name } = await subscribed(session)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    await server.herald.testHooks.push.registry.settled()
    const first = await publish(session)
    await socket.next('notification')
    expect(await decisionFor(session.user.id, first.seq)).toBe('connected')
    socket.close()
    await socket.closed
    await until('the socket to be forgotten', () =>
      server.herald.getUserConnectionCount(session.user.id) === 0 ? true : undefined,
    )
    await server.herald.testHooks.push.registry.settled()
    const second = await publish(session)
    expect(await decisionFor(session.user.id, second.seq)).toBe('queued')
    await until('the push', () => (requestsTo(name).length > 0 ? true : undefined))
    expect(requestsTo(name)).toHaveLength(1)
  })

  test('410 removes the subscription and is not retried', async () => {
    const session = await signIn(server.url)
    const { name } = await subscribed(session)
    push.script(name, [410])
    await publish(session)
    await until('the subscription to be removed', async () =>
      (await query('select 1 from push_subscriptions where user_id = $1', [session.user.id])).length === 0
        ? true
        : undefined,
    )
    expect(requestsTo(name).map((request) => request.status)).toEqual([410])
  })

  test('500 twice, then 201: delivered once, after two retries', async () => {
    const session = await signIn(server.url)
    const { name, browser } = await subscribed(session)
    push.script(name, [500, 500])
    const notification = await publish(session)
    await until('the third attempt', () => (requestsTo(name).length >= 3 ? true : undefined))
    const requests = requestsTo(name)
    expect(requests.map((request) => request.status)).toEqual([500, 500, 201])
    expect(JSON.parse(browser.decrypt(requests[2]!.body)).id).toBe(notification.id)
    // The row is written once the push service's answer is back at the server: a moment after it was sent.
    const rows = await until('the delivery recorded', async () => {
      const found = await query<{ state: string; attempts: number }>(
        'select state, attempts from push_deliveries where notification_id = $1',
        [notification.id],
      )
      return found[0]?.state === 'sending' ? undefined : found
    })
    expect(rows).toEqual([{ state: 'accepted', attempts: 3 }])
  })

  test('429 waits for its Retry-After; 404 removes the subscription; 400 fails at once', async () => {
    const session = await signIn(server.url)
    const limited = await subscribed(session)
    const missing = await subscribed(session)
    const refused = await subscribed(session)
    push.script(limited.name, [{ status: 429, retryAfter: '1' }])
    push.script(missing.name, [404])
    push.script(refused.name, [400])
    const notification = await publish(session)
    const outcomes = await until('every outcome', async () => {
      const rows = await query<{ subscription_id: string; state: string; attempts: number }>(
        'select subscription_id::text, state, attempts from push_deliveries where notification_id = $1',
        [notification.id],
      )
      // The 404's row goes with its subscription; the other two settle.
      const gone = (await query('select 1 from push_subscriptions where id = $1', [missing.id])).length === 0
      return gone && rows.length === 2 && rows.every((row) => row.state !== 'sending') ? rows : undefined
    })
    const stateOf = (id: string) => outcomes.find((row) => row.subscription_id === id)
    const [first, second] = requestsTo(limited.name)
    expect([first!.status, second!.status]).toEqual([429, 201])
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950)
    expect(stateOf(limited.id)).toMatchObject({ state: 'accepted', attempts: 2 })
    expect(requestsTo(refused.name).map((request) => request.status)).toEqual([400])
    expect(stateOf(refused.id)).toMatchObject({ state: 'failed', attempts: 1 })
    // 404: the subscription (and with it its delivery row) is gone, after one request.
    expect(requestsTo(missing.name).map((request) => request.status)).toEqual([404])
    expect(stateOf(missing.id)).toBeUndefined()
    expect(await query('select 1 from push_subscriptions where id = $1', [missing.id])).toEqual([])
  })

  test('push:false for a type stops its pushes, unless the publish is critical', async () => {
    const session = await signIn(server.url)
    const { name } = await subscribed(session)
    const put = await api('/api/preferences', {
      method: 'PUT',
      token: session.token,
      json: { types: { quiet: { inApp: true, push: false } } },
    })
    expect(put.status).toBe(200)
    const quiet = await publish(session, { type: 'quiet' })
    expect((await deliveryOf(session.user.id, quiet.seq)).outcomes).toBe(0)
    const critical = await publish(session, { type: 'quiet', critical: true })
    expect((await deliveryOf(session.user.id, critical.seq)).outcomes).toBe(1)
    const bodies = requestsTo(name)
    expect(bodies).toHaveLength(1)
  })

  test('/metrics counts the outcomes', async () => {
    expect(await metricValue(server.url, 'herald_web_push_total', { outcome: 'gone' })).toBe(2)
    expect(await metricValue(server.url, 'herald_web_push_total', { outcome: 'failed' })).toBe(1)
    expect(
      await metricValue(server.url, 'herald_web_push_total', { outcome: 'accepted' }),
    ).toBeGreaterThanOrEqual(3)
  })
})
