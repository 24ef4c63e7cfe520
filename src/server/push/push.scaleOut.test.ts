import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import webpush from 'web-push'
import { until } from '../../../test/helpers/drill'
import { type HeraldPair, startHeraldPair } from '../../../test/helpers/heraldPair'
import {
  browserSubscription,
  startPushService,
  type TestPushService,
} from '../../../test/helpers/pushService'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated } from '../../../test/helpers/wsClient'

// Web Push across two Herald processes on one PostgreSQL (BUS=postgres): a socket on one instance keeps the
// other from pushing, and both instances hear every notification and run push workers, yet each is pushed once.
// Only with HERALD_TEST_DATABASE_URL.

const ADMIN_KEY = 'push-scale-admin-key-0123456789'

describe.skipIf(!usingPostgres())('Web Push on two instances', () => {
  let push: TestPushService
  let pair: HeraldPair
  beforeAll(async () => {
    push = startPushService()
    const keys = webpush.generateVAPIDKeys()
    pair = await startHeraldPair(ADMIN_KEY, {
      VAPID_PUBLIC_KEY: keys.publicKey,
      VAPID_PRIVATE_KEY: keys.privateKey,
      PUSH_ENDPOINT_HOSTS: '127.0.0.1',
      PUSH_RETRY_DELAY_MS: '20',
      // The processes trust the test push service's certificate as they would a public one.
      NODE_EXTRA_CA_CERTS: push.certFile,
    })
  }, 60_000)
  afterAll(async () => {
    await pair?.stop()
    await push?.stop()
  }, 30_000)

  const subscribe = async (session: Session, name: string) => {
    const browser = browserSubscription(`${push.origin}/push/${name}`)
    const response = await fetch(`${pair.a.url}/api/push/subscriptions`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify(browser.json),
    })
    expect(response.status).toBe(201)
    return browser
  }
  const publish = async (url: string, session: Session, title: string) => {
    const response = await fetch(`${url}/api/admin/notifications`, {
      method: 'POST',
      headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: session.user.id, type: 'scale', title, message: 'm' }),
    })
    expect(response.status).toBe(201)
    return ((await response.json()) as { notification: { id: string; seq: number } }).notification
  }
  const rowsOf = async (userId: string) =>
    Number(
      (
        await pair.sql`select count(*)::int as n from user_connections where user_id = ${userId} and connections > 0`
      )[0]!.n,
    )
  const titlesAt = (name: string, browser: ReturnType<typeof browserSubscription>) =>
    push.requests
      .filter((request) => request.path === `/push/${name}` && request.status === 201)
      .map((request) => (JSON.parse(browser.decrypt(request.body)) as { title: string }).title)

  test('a socket on instance A keeps instance B from pushing; once it closes, B pushes', async () => {
    const session = await signIn(pair.a.url)
    const browser = await subscribe(session, 'present')
    const socket = await connectAuthenticated(`${pair.a.url.replace('http', 'ws')}/ws`, session.token)
    await until('the connection row', async () => ((await rowsOf(session.user.id)) === 1 ? true : undefined))
    const first = await publish(pair.b.url, session, 'while present')
    await socket.next((m) => m.type === 'notification')
    socket.close()
    await until('the row to go', async () => ((await rowsOf(session.user.id)) === 0 ? true : undefined))
    const second = await publish(pair.b.url, session, 'while away')
    await until('the push', () => (titlesAt('present', browser).length > 0 ? true : undefined), 10_000)
    expect(titlesAt('present', browser)).toEqual(['while away'])
    const deliveries = await pair.sql`select notification_id::text as id from push_deliveries`
    expect(deliveries.map((row) => row.id)).not.toContain(first.id)
    expect(deliveries.map((row) => row.id)).toContain(second.id)
  })

  test('both instances hear every notification and run workers: each is pushed once', async () => {
    const session = await signIn(pair.b.url)
    const browser = await subscribe(session, 'away')
    const titles = Array.from({ length: 10 }, (_, i) => `n${i}`)
    for (const [i, title] of titles.entries()) await publish(i % 2 ? pair.a.url : pair.b.url, session, title)
    await until(
      'every push',
      () => (titlesAt('away', browser).length >= titles.length ? true : undefined),
      15_000,
    )
    // Anything twice would have arrived by the time the last one did; the rows say each pair was sent once.
    expect(titlesAt('away', browser).sort()).toEqual(titles.sort())
    // Each row is written once the push service's answer is back at the server: a moment after it was sent.
    const states = await until('every delivery recorded', async () => {
      const rows = await pair.sql`select state, count(*)::int as n from push_deliveries d
        join notifications n on n.id = d.notification_id where n.user_id = ${session.user.id} group by state`
      return rows.some((row) => row.state === 'sending') ? undefined : rows.map((row) => ({ ...row }))
    })
    expect(states).toEqual([{ state: 'accepted', n: titles.length }])
  })
})
