import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { until } from '../../../test/helpers/drill'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated } from '../../../test/helpers/wsClient'
import type { Notification, Preferences } from '../../shared/protocol'

// Inbox states and preferences (docs/protocol.md §7), over real HTTP and WebSockets against a real server.

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

async function call<T>(session: Session, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...bearer(session.token),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as T }
}

async function publish(session: Session, type: string, extra: Record<string, unknown> = {}) {
  const response = await server.publish({
    userId: session.user.id,
    type,
    title: type,
    message: 'm',
    ...extra,
  })
  expect(response.status).toBe(201)
  return (await response.json()) as { notification: Notification | null; userId: string; suppressed?: string }
}

type List = { notifications: Notification[]; unreadCount: number; unseenCount: number }
type Counts = { unreadCount: number; unseenCount: number; seq: number; version: number }

describe('inbox states', () => {
  test('seen, read, archive and unarchive: counts over the inbox, pushed to every connection', async () => {
    const session = await signIn(server.url)
    const [a, b] = await Promise.all([
      connectAuthenticated(server.wsUrl, session.token),
      connectAuthenticated(server.wsUrl, session.token),
    ])
    const created: Notification[] = []
    for (const type of ['x', 'y', 'x']) created.push((await publish(session, type)).notification!)
    expect(created[0]).toMatchObject({ seen: false, archived: false, critical: false, read: false })

    const counts = await call<Counts>(session, 'GET', '/api/notifications/unread-count')
    expect(counts.body).toEqual({ unreadCount: 3, unseenCount: 3, seq: 3, version: expect.any(Number) })

    // Seen up to 2: the third stays unseen; read unchanged.
    const seen = await call<Counts & { upToSeq: number; updated: number }>(
      session,
      'POST',
      '/api/notifications/seen',
      { upToSeq: 2 },
    )
    expect(seen.body).toMatchObject({ updated: 2, upToSeq: 2, unseenCount: 1, unreadCount: 3, seq: 3 })
    for (const socket of [a, b]) {
      const message = await socket.next('inbox_state')
      expect(message).toEqual({
        type: 'inbox_state',
        ids: 'all',
        upToSeq: 2,
        seen: true,
        unreadCount: 3,
        unseenCount: 1,
        seq: 3,
        version: seen.body.version,
      })
    }

    // Reading marks seen.
    const read = await call<Counts & { notification: Notification }>(
      session,
      'POST',
      `/api/notifications/${created[2]!.id}/read`,
    )
    expect(read.body.notification).toMatchObject({ read: true, seen: true })
    expect(read.body).toMatchObject({ unreadCount: 2, unseenCount: 0 })
    expect(await a.next('read_state')).toMatchObject({
      ids: [created[2]!.id],
      unreadCount: 2,
      unseenCount: 0,
    })

    // Archive: out of the inbox and the counts, into the archive.
    const archived = await call<Counts & { notification: Notification }>(
      session,
      'POST',
      `/api/notifications/${created[0]!.id}/archive`,
    )
    expect(archived.status).toBe(200)
    expect(archived.body).toMatchObject({ notification: { archived: true }, unreadCount: 1, unseenCount: 0 })
    for (const socket of [a, b])
      expect(await socket.next('inbox_state')).toMatchObject({
        ids: [created[0]!.id],
        archived: true,
        unreadCount: 1,
      })
    const inbox = await call<List>(session, 'GET', '/api/notifications')
    expect(inbox.body.notifications.map((n) => n.seq)).toEqual([3, 2])
    expect(inbox.body).toMatchObject({ unreadCount: 1, unseenCount: 0 })
    const archive = await call<List>(session, 'GET', '/api/notifications?archived=true')
    expect(archive.body.notifications.map((n) => n.seq)).toEqual([1])
    // Counts are the inbox's, whatever the list.
    expect(archive.body).toMatchObject({ unreadCount: 1, unseenCount: 0 })
    const byType = await call<List>(session, 'GET', '/api/notifications?type=x&type=z')
    expect(byType.body.notifications.map((n) => n.seq)).toEqual([3])
    const oneType = await call<List>(session, 'GET', '/api/notifications?type=y')
    expect(oneType.body.notifications.map((n) => n.seq)).toEqual([2])

    // Archiving twice changes nothing and pushes nothing; unarchive brings it back, unread.
    const before = a.messages.length
    await call(session, 'POST', `/api/notifications/${created[0]!.id}/archive`)
    const back = await call<Counts>(session, 'POST', `/api/notifications/${created[0]!.id}/unarchive`)
    expect(back.body).toMatchObject({ unreadCount: 2, unseenCount: 0 })
    const next = await a.next('inbox_state')
    expect(next).toMatchObject({ archived: false, unreadCount: 2 })
    expect(a.messages.slice(before).filter((m) => m.type === 'inbox_state')).toHaveLength(1)

    // Someone else's id: 404, like a missing one.
    const other = await signIn(server.url)
    expect((await call(other, 'POST', `/api/notifications/${created[0]!.id}/archive`)).status).toBe(404)
    expect((await call(other, 'POST', '/api/notifications/999999/unarchive')).status).toBe(404)
    a.close()
    b.close()
  })

  test('read-all with upToSeq, and without (the latest seq); a larger upToSeq is cut to the latest', async () => {
    const session = await signIn(server.url)
    for (let i = 0; i < 4; i++) await publish(session, 't')
    const partial = await call<Counts & { upToSeq: number; updated: number }>(
      session,
      'POST',
      '/api/notifications/read-all',
      { upToSeq: 2 },
    )
    expect(partial.body).toMatchObject({ updated: 2, upToSeq: 2, unreadCount: 2, unseenCount: 2 })
    const rest = await call<Counts & { upToSeq: number }>(session, 'POST', '/api/notifications/read-all')
    expect(rest.body).toMatchObject({ updated: 2, upToSeq: 4, unreadCount: 0, unseenCount: 0 })
    await publish(session, 't')
    const beyond = await call<Counts & { upToSeq: number }>(session, 'POST', '/api/notifications/seen', {
      upToSeq: 99,
    })
    expect(beyond.body).toMatchObject({ updated: 1, upToSeq: 5, unreadCount: 1, unseenCount: 0 })
    const bad = await call<{ error: { code: string } }>(session, 'POST', '/api/notifications/read-all', {
      upToSeq: -1,
    })
    expect(bad.status).toBe(422)
    expect(bad.body.error.code).toBe('INVALID_INPUT')
    const types = await call<{ types: string[] }>(session, 'GET', '/api/notifications/types')
    expect(types.body).toEqual({ types: ['t'] })
  })
})

describe('preferences', () => {
  test('inApp false suppresses a type (critical overrides); PUT is pushed to every connection', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const initial = await call<Preferences>(session, 'GET', '/api/preferences')
    expect(initial.body).toEqual({ default: { inApp: true, push: true }, types: {} })

    const put = await call<Preferences>(session, 'PUT', '/api/preferences', {
      types: { marketing: { inApp: false }, digest: { push: false } },
    })
    expect(put.status).toBe(200)
    const expected = {
      default: { inApp: true, push: true },
      types: { marketing: { inApp: false, push: true }, digest: { inApp: true, push: false } },
    }
    expect(put.body).toEqual(expected)
    expect(await socket.next('preferences')).toEqual({ type: 'preferences', preferences: expected })
    expect((await call<Preferences>(session, 'GET', '/api/preferences')).body).toEqual(expected)

    expect(await publish(session, 'marketing')).toEqual({
      notification: null,
      userId: session.user.id,
      suppressed: 'preference',
    })
    const critical = await publish(session, 'marketing', { critical: true })
    expect(critical.notification).toMatchObject({ seq: 1, critical: true })
    const digest = await publish(session, 'digest')
    expect(digest.notification).toMatchObject({ seq: 2 })
    await until('two notifications', () =>
      socket.messages.filter((m) => m.type === 'notification').length === 2 ? true : undefined,
    )

    // A batch: the suppressed entry answers null in its place, the others are stored.
    const batch = await fetch(`${server.url}/api/admin/notifications/batch`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-admin-key-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({
        notifications: [
          { userId: session.user.id, type: 'marketing', title: 't', message: 'm' },
          { userId: session.user.id, type: 'other', title: 't', message: 'm' },
        ],
      }),
    })
    const results = (
      (await batch.json()) as {
        results: { userId: string; notification: Notification | null; suppressed?: string }[]
      }
    ).results
    expect(results[0]).toEqual({ userId: session.user.id, notification: null, suppressed: 'preference' })
    expect(results[1]!.notification).toMatchObject({ seq: 3, type: 'other' })

    // Turning everything off by default, and bad bodies.
    const off = await call<Preferences>(session, 'PUT', '/api/preferences', { default: { inApp: false } })
    expect(off.body).toEqual({ default: { inApp: false, push: true }, types: {} })
    expect((await publish(session, 'anything')).notification).toBeNull()
    const bad = await call<{ error: { code: string } }>(session, 'PUT', '/api/preferences', {
      types: { x: { inApp: 'no' } },
    })
    expect(bad.status).toBe(422)
    const extra = await call(session, 'PUT', '/api/preferences', { everything: true })
    expect(extra.status).toBe(422)
    socket.close()
  })
})
