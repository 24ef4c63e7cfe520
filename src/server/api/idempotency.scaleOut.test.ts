import { describe, expect, test } from 'bun:test'
import { useHeraldPair } from '../../../test/helpers/heraldPair'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, signIn } from '../../../test/helpers/wallet'
import { createHeraldAdmin } from '../../client/admin'

// Two Herald processes on one PostgreSQL share their Idempotency-Keys (docs/protocol.md §6): the database is
// where keys live, so a retry that lands on the other instance is answered the same. Only with
// HERALD_TEST_DATABASE_URL.

const ADMIN_KEY = 'idempotency-scale-admin-key-0123456789'

describe.skipIf(!usingPostgres())('two instances share the keys', () => {
  const pair = useHeraldPair(ADMIN_KEY)

  const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const storedFor = async (userId: string) =>
    Number((await pair.sql`select count(*)::int as n from notifications where user_id = ${userId}`)[0]!.n)

  test('a key used on one instance is replayed by the other; another body there → 422', async () => {
    const session = await signIn(pair.a.url)
    const key = crypto.randomUUID()
    const body = { userId: session.user.id, type: 'shared', title: 'Once', message: 'On either instance' }
    const first = await post(pair.a.url, '/api/admin/notifications', body, { 'idempotency-key': key })
    expect(first.status).toBe(201)
    const firstText = await first.text()
    const again = await post(pair.b.url, '/api/admin/notifications', body, { 'idempotency-key': key })
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.text()).toBe(firstText)
    const other = await post(
      pair.b.url,
      '/api/admin/notifications',
      { ...body, title: 'Other' },
      { 'idempotency-key': key },
    )
    expect(other.status).toBe(422)
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(await storedFor(session.user.id)).toBe(1)
  })

  test('the same request on both instances at once, many times: one runs, every answer is its answer', async () => {
    const session = await signIn(pair.b.url)
    for (const path of ['/api/admin/notifications', '/api/admin/notifications/batch']) {
      const key = crypto.randomUUID()
      const content = { type: 'race', title: path, message: 'Both at once' }
      const body =
        path === '/api/admin/notifications'
          ? { userId: session.user.id, ...content }
          : { recipients: [{ userId: session.user.id }], notification: content }
      const answers = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const response = await post(i % 2 ? pair.a.url : pair.b.url, path, body, { 'idempotency-key': key })
          return { status: response.status, text: await response.text() }
        }),
      )
      expect(answers.map((x) => x.status)).toEqual(Array(8).fill(201))
      expect(new Set(answers.map((x) => x.text)).size).toBe(1)
    }
    expect(await storedFor(session.user.id)).toBe(2)
  })

  test('a user’s key is theirs on every instance', async () => {
    const session = await signIn(pair.a.url)
    await post(pair.a.url, '/api/admin/notifications', {
      userId: session.user.id,
      type: 't',
      title: 't',
      message: 'm',
    })
    const key = crypto.randomUUID()
    const readAll = (url: string) =>
      fetch(`${url}/api/notifications/read-all`, {
        method: 'POST',
        headers: { ...bearer(session.token), 'idempotency-key': key },
      })
    const first = await readAll(pair.a.url)
    const firstText = await first.text()
    expect(JSON.parse(firstText)).toEqual({
      updated: 1,
      upToSeq: 1,
      unreadCount: 0,
      unseenCount: 0,
      seq: 1,
      version: 1,
    })
    const second = await readAll(pair.b.url)
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(await second.text()).toBe(firstText)
  })

  test('herald/admin retries land on either instance and store once', async () => {
    const session = await signIn(pair.a.url)
    const idempotencyKey = crypto.randomUUID()
    const params = { userId: session.user.id, type: 'both', title: 'Either', message: 'One' }
    const viaA = await createHeraldAdmin({ url: pair.a.url, adminKey: ADMIN_KEY }).notify(params, {
      idempotencyKey,
    })
    const viaB = await createHeraldAdmin({ url: pair.b.url, adminKey: ADMIN_KEY }).notify(params, {
      idempotencyKey,
    })
    expect(viaB).toEqual(viaA)
    expect(await storedFor(session.user.id)).toBe(1)
  })
})
