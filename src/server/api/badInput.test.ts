import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count, isNotNull } from 'drizzle-orm'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { busPayloads, notifications, sessions, users } from '../db/schema'

// Bad input of every kind (contract §1: "400/413/422 with a clear message, never a 500 and never a partial
// write"; §2: "Anything else, or malformed JSON → error INVALID_MESSAGE, the connection stays open").

const MAX_BODY_BYTES = 2048

let server: TestServer
let alice: Session
let published: Notification[]

// Starting a server on a fresh PGlite takes seconds on a busy machine: more than the default hook timeout.
beforeAll(async () => {
  server = await startTestServer({ MAX_BODY_BYTES: String(MAX_BODY_BYTES) })
  alice = await signIn(server.url)
  published = []
  for (let i = 1; i <= 3; i++) {
    const response = await server.publish({ userId: alice.user.id, type: 't', title: `#${i}`, message: 'm' })
    published.push(((await response.json()) as { notification: Notification }).notification)
  }
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

interface ErrorBody {
  error: { code: string; message: string }
}

/** The contract's error: exactly {"error":{"code","message"}} as JSON, with the status. */
async function expectError(response: Response, status: number, code: string): Promise<string> {
  const text = await response.text()
  expect({ status: response.status, text }).toMatchObject({ status })
  expect(response.headers.get('content-type') ?? '').toStartWith('application/json')
  const body = JSON.parse(text) as ErrorBody
  expect(Object.keys(body)).toEqual(['error'])
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message'])
  expect(body.error.code).toBe(code)
  expect(body.error.message).toBeString()
  expect(body.error.message.length).toBeGreaterThan(5)
  return body.error.message
}

/** Everything a bad request might have written: rows, read marks, bus payloads. */
async function snapshot() {
  const db = server.database.db
  const [[u], [s], [n], [r], [b]] = await Promise.all([
    db.select({ n: count() }).from(users),
    db.select({ n: count() }).from(sessions),
    db.select({ n: count() }).from(notifications),
    db.select({ n: count() }).from(notifications).where(isNotNull(notifications.readAt)),
    db.select({ n: count() }).from(busPayloads),
  ])
  return { users: u!.n, sessions: s!.n, notifications: n!.n, read: r!.n, busPayloads: b!.n }
}

/** Runs the requests and checks that none of them wrote anything. */
async function writesNothing(run: () => Promise<void>) {
  const before = await snapshot()
  await run()
  expect(await snapshot()).toEqual(before)
}

const adminHeaders = { ...bearer(ADMIN_KEY), 'content-type': 'application/json' }
const rawPost = (path: string, body: BodyInit | null, headers: Record<string, string> = adminHeaders) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers, body })
const validPublish = () => ({ userId: alice.user.id, type: 't', title: 'x', message: 'y' })

/** A body sent chunked, with no content-length, in pieces of `piece` bytes. */
function streamed(text: string, piece = 256): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text)
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += piece) controller.enqueue(bytes.slice(i, i + piece))
      controller.close()
    },
  })
}
const postStreamed = (path: string, text: string) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: adminHeaders,
    body: streamed(text),
    duplex: 'half',
  } as RequestInit)

describe('HTTP: malformed JSON → 400 BAD_REQUEST', () => {
  const malformed = [
    '{',
    '{"userId": }',
    "{'type': 't'}",
    '{"type":"t",}',
    '{"type":"t"} trailing',
    '[1, 2',
    'undefined',
    '{"type":"\\x41"}',
  ]

  test('on the admin routes and on sign-in, nothing written', async () => {
    await writesNothing(async () => {
      for (const path of ['/api/admin/notifications', '/api/admin/broadcast', '/api/auth/verify']) {
        for (const body of malformed) {
          const message = await expectError(await rawPost(path, body), 400, 'BAD_REQUEST')
          expect(message).toContain('JSON')
        }
        // The content type may carry parameters.
        const withCharset = { ...adminHeaders, 'content-type': 'application/json; charset=utf-8' }
        await expectError(await rawPost(path, '{"oops"', withCharset), 400, 'BAD_REQUEST')
      }
    })
  })
})

describe('HTTP: wrong shapes and types → 422 INVALID_INPUT naming the field', () => {
  test('admin publish fields', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...validPublish(), type: 5 }, 'type'],
      [{ ...validPublish(), type: undefined }, 'type'],
      [{ ...validPublish(), title: { text: 'x' } }, 'title'],
      [{ ...validPublish(), title: 'x'.repeat(501) }, 'title'],
      [{ ...validPublish(), message: false }, 'message'],
      [{ ...validPublish(), userId: 12 }, 'userId'],
      [{ ...validPublish(), userId: '12abc' }, 'userId'],
      [{ ...validPublish(), userId: undefined, address: 12 }, 'address'],
      [{ ...validPublish(), userId: undefined, address: `0x${'g'.repeat(40)}` }, 'address'],
    ]
    await writesNothing(async () => {
      for (const [body, field] of cases) {
        const message = await expectError(
          await rawPost('/api/admin/notifications', JSON.stringify(body)),
          422,
          'INVALID_INPUT',
        )
        expect(message).toContain(field)
      }
    })
  })

  test('sign-in verify fields', async () => {
    const cases: [unknown, string][] = [
      [{ message: 5, signature: '0x00' }, 'message'],
      [{ message: '', signature: '0x00' }, 'message'],
      [{ signature: '0x00' }, 'message'],
      [{ message: 'hello', signature: ['0x00'] }, 'signature'],
      [{ message: 'hello' }, 'signature'],
      [{ message: { text: 'hello' }, signature: '0x00' }, 'message'],
      [{ message: 'hello', signature: '' }, 'signature'],
    ]
    await writesNothing(async () => {
      for (const [body, field] of cases) {
        const response = await rawPost('/api/auth/verify', JSON.stringify(body), {
          'content-type': 'application/json',
        })
        expect(await expectError(response, 422, 'INVALID_INPUT')).toContain(field)
      }
    })
  })

  test('a body that is not an object (array, null, string, number, empty, text/plain, no content type) → 422', async () => {
    await writesNothing(async () => {
      for (const path of ['/api/admin/notifications', '/api/admin/broadcast', '/api/auth/verify']) {
        for (const body of ['[1,2]', '[]', 'null', '"text"', '42', 'true', '']) {
          await expectError(await rawPost(path, body), 422, 'INVALID_INPUT')
        }
        const { 'content-type': _, ...withoutType } = adminHeaders
        await expectError(
          await rawPost(path, 'hello', { ...withoutType, 'content-type': 'text/plain' }),
          422,
          'INVALID_INPUT',
        )
        await expectError(
          await rawPost(path, JSON.stringify(validPublish()), withoutType),
          422,
          'INVALID_INPUT',
        )
      }
    })
  })

  test('text PostgreSQL cannot store (NUL characters, very deep nesting) → 422 naming the field', async () => {
    const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : [nested(depth - 1)])
    const cases: [Record<string, unknown>, string][] = [
      [{ ...validPublish(), title: 'a\u0000b' }, 'title'],
      [{ ...validPublish(), type: '\u0000' }, 'type'],
      [{ ...validPublish(), message: 'end\u0000' }, 'message'],
      [{ ...validPublish(), data: { text: 'a\u0000b' } }, 'data'],
      [{ ...validPublish(), data: { 'key\u0000': 1 } }, 'data'],
      [{ ...validPublish(), data: ['ok', ['deeper', '\u0000']] }, 'data'],
      [{ ...validPublish(), data: nested(500) }, 'data'],
      // The address path too: the user row is not created ahead of a notification that cannot be stored.
      [{ ...validPublish(), userId: undefined, address: `0x${'ab'.repeat(20)}`, title: '\u0000' }, 'title'],
    ]
    await writesNothing(async () => {
      for (const [body, field] of cases) {
        const message = await expectError(
          await rawPost('/api/admin/notifications', JSON.stringify(body)),
          422,
          'INVALID_INPUT',
        )
        expect(message).toContain(field)
      }
      for (const message of [
        { type: 'x\u0000' },
        { type: 'x', text: '\u0000' },
        { type: 'x', deep: nested(500) },
      ]) {
        const error = await expectError(
          await rawPost('/api/admin/broadcast', JSON.stringify({ message })),
          422,
          'INVALID_INPUT',
        )
        expect(error).toContain('message')
      }
    })
    // Escaped text that merely looks like a NUL, and reasonable nesting, are fine.
    const fine = await rawPost(
      '/api/admin/notifications',
      JSON.stringify({ ...validPublish(), title: 'a\\u0000b', data: nested(40) }),
    )
    expect(fine.status).toBe(201)
    const { notification } = (await fine.json()) as { notification: Notification }
    expect(notification.title).toBe('a\\u0000b')
    expect(notification.data).toEqual(nested(40))
  })
})

describe('HTTP: bodies over MAX_BODY_BYTES → 413 PAYLOAD_TOO_LARGE', () => {
  const oversized = () => JSON.stringify({ ...validPublish(), message: 'y'.repeat(MAX_BODY_BYTES * 2) })

  test('with a content-length', async () => {
    await writesNothing(async () => {
      for (const path of [
        '/api/admin/notifications',
        '/api/admin/broadcast',
        '/api/auth/verify',
        '/api/notifications/read-all',
      ]) {
        await expectError(await rawPost(path, oversized()), 413, 'PAYLOAD_TOO_LARGE')
      }
    })
  })

  test('streamed (chunked, no content-length)', async () => {
    await writesNothing(async () => {
      for (const path of ['/api/admin/notifications', '/api/admin/broadcast', '/api/auth/verify']) {
        await expectError(await postStreamed(path, oversized()), 413, 'PAYLOAD_TOO_LARGE')
      }
      // Far over the limit, in large pieces.
      const huge = JSON.stringify({ ...validPublish(), message: 'y'.repeat(1024 * 1024) })
      const response = await fetch(`${server.url}/api/admin/notifications`, {
        method: 'POST',
        headers: adminHeaders,
        body: streamed(huge, 64 * 1024),
        duplex: 'half',
      } as RequestInit)
      await expectError(response, 413, 'PAYLOAD_TOO_LARGE')
    })
  })

  test('a body just under the limit is accepted, sent either way, and the server keeps serving', async () => {
    const body = JSON.stringify({ ...validPublish(), message: 'z'.repeat(MAX_BODY_BYTES - 200) })
    expect(body.length).toBeLessThanOrEqual(MAX_BODY_BYTES)
    expect((await rawPost('/api/admin/notifications', body)).status).toBe(201)
    expect((await postStreamed('/api/admin/notifications', body)).status).toBe(201)
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
  })
})

describe('HTTP: ids, query parameters, routes and methods', () => {
  test('ids that are not row ids → 422 INVALID_INPUT naming id; a well-formed missing id → 404', async () => {
    const bad = [
      'abc',
      '-1',
      '1.5',
      '0',
      '01',
      '1e3',
      '0x10',
      '%201',
      '1%00',
      '123456789012345678901234567890',
      '9007199254740993',
      '9223372036854775807',
      '9999999999999999999',
    ]
    await writesNothing(async () => {
      for (const id of bad) {
        const response = await fetch(`${server.url}/api/notifications/${id}/read`, {
          method: 'POST',
          headers: bearer(alice.token),
        })
        const message = await expectError(response, 422, 'INVALID_INPUT')
        expect(message).toContain('id')
      }
      const missing = await fetch(`${server.url}/api/notifications/999999999999999/read`, {
        method: 'POST',
        headers: bearer(alice.token),
      })
      await expectError(missing, 404, 'NOT_FOUND')
      // The same bounds for userId on the admin route.
      for (const userId of ['9223372036854775807', '9999999999999999999', '-5']) {
        const response = await rawPost(
          '/api/admin/notifications',
          JSON.stringify({ ...validPublish(), userId }),
        )
        expect(await expectError(response, 422, 'INVALID_INPUT')).toContain('userId')
      }
      const nobody = await rawPost(
        '/api/admin/notifications',
        JSON.stringify({ ...validPublish(), userId: '999999999999999' }),
      )
      await expectError(nobody, 404, 'NOT_FOUND')
    })
  })

  test('limit outside 1..100 or not a whole number, before not a positive whole number, unread not a boolean → 422', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
      ['before=abc', 'before'],
      ['before=0', 'before'],
      ['before=-3', 'before'],
      ['before=2.5', 'before'],
      ['before=123456789012345678901234567890', 'before'],
      ['before=9007199254740992', 'before'],
      ['unread=maybe', 'unread'],
    ]
    for (const [query, field] of cases) {
      const response = await fetch(`${server.url}/api/notifications?${query}`, {
        headers: bearer(alice.token),
      })
      const message = await expectError(response, 422, 'INVALID_INPUT')
      // Some schema errors name the parameter only through its bound; all of them say what is expected.
      expect(message.includes(field) || /integer|greater|less|boolean/i.test(message)).toBe(true)
    }
    // The bounds themselves are fine.
    for (const query of [
      'limit=1',
      'limit=100',
      'before=1',
      'before=9007199254740991',
      'unread=true',
      'unread=false',
    ]) {
      const response = await fetch(`${server.url}/api/notifications?${query}`, {
        headers: bearer(alice.token),
      })
      expect(response.status).toBe(200)
    }
  })

  test('any other GET path is the web app (client-side routes survive a reload)', async () => {
    const response = await fetch(`${server.url}/some/app/route`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/html')
  })

  test('a missing file (under /assets/ or with an extension) is a 404, never the app’s HTML', async () => {
    for (const path of [
      '/assets/missing-0123.js',
      '/assets/deep/dir/x',
      '/missing-worker.js',
      '/favicon-nope.png',
      '/a/b.css',
    ]) {
      const response = await fetch(`${server.url}${path}`)
      expect({ path, status: response.status }).toEqual({ path, status: 404 })
      expect(response.headers.get('content-type')).toContain('application/json')
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
    }
    // A route with a dot in a directory name is still a navigation.
    expect((await fetch(`${server.url}/v1.2/route`)).status).toBe(200)
  })

  test('unknown routes → 404 NOT_FOUND', async () => {
    const requests: [string, string][] = [
      ['POST', '/nope'],
      ['GET', '/api'],
      ['GET', '/api/'],
      ['POST', '/api/nope'],
      ['GET', '/api/notifications/1'],
      ['POST', '/api/notifications/1/read/again'],
      ['POST', '/api/notifications/1/unread'],
      ['GET', '/api/admin'],
      ['POST', '/api/admin/users'],
      ['GET', '/health/deep'],
      ['GET', '/%ff'],
    ]
    for (const [method, path] of requests) {
      const response = await fetch(`${server.url}${path}`, { method, headers: bearer(alice.token) })
      await expectError(response, 404, 'NOT_FOUND')
    }
  })

  test('a known path with the wrong method → 404 NOT_FOUND (no such route), nothing written', async () => {
    const requests: [string, string][] = [
      ['GET', '/api/notifications/read-all'],
      ['GET', `/api/notifications/${published[0]!.id}/read`],
      ['DELETE', '/api/notifications'],
      ['PUT', '/api/notifications/read-all'],
      ['POST', '/api/notifications/unread-count'],
      ['GET', '/api/admin/notifications'],
      ['PUT', '/api/admin/broadcast'],
      ['POST', '/health'],
      ['PATCH', '/api/me'],
      ['GET', '/api/auth/verify'],
    ]
    await writesNothing(async () => {
      for (const [method, path] of requests) {
        const response = await fetch(`${server.url}${path}`, { method, headers: adminHeaders })
        await expectError(response, 404, 'NOT_FOUND')
      }
    })
  })
})

describe('WebSocket: bad frames → error INVALID_MESSAGE, the connection stays open', () => {
  const badFrames: [string, string | Uint8Array<ArrayBuffer>][] = [
    ['malformed JSON', '{"type":'],
    ['not JSON at all', 'hello'],
    ['a JSON array', '[{"type":"ping"}]'],
    ['an empty array', '[]'],
    ['a number', '42'],
    ['a JSON string', '"ping"'],
    ['null', 'null'],
    ['true', 'true'],
    ['an object without type', '{}'],
    ['a non-string type', '{"type":5}'],
    // `subscribe` is a message of the contract now (section 4): another name stands for an unknown type.
    ['an unknown type', '{"type":"listen","channel":"x"}'],
    ['subscribe without a channel', '{"type":"subscribe"}'],
    ['subscribe with a numeric channel', '{"type":"subscribe","channel":5}'],
    ['subscribe with since "1"', '{"type":"subscribe","channel":"public:x","since":"1"}'],
    ['publish without data', '{"type":"publish","channel":"private:x"}'],
    ['presence with a null channel', '{"type":"presence","channel":null}'],
    ['a type in the wrong case', '{"type":"PING"}'],
    ['auth with a numeric token', '{"type":"auth","token":5}'],
    ['auth with a null token', '{"type":"auth","token":null}'],
    ['auth with an object token', '{"type":"auth","token":{"jwt":"x"}}'],
    ['auth with an empty token', '{"type":"auth","token":""}'],
    ['auth without token', '{"type":"auth"}'],
    ['resume with since -1', '{"type":"resume","since":-1}'],
    ['resume with since "abc"', '{"type":"resume","since":"abc"}'],
    ['resume with since "1"', '{"type":"resume","since":"1"}'],
    ['resume with since 1.5', '{"type":"resume","since":1.5}'],
    ['resume with since null', '{"type":"resume","since":null}'],
    ['resume without since', '{"type":"resume"}'],
    ['resume with since beyond any seq', '{"type":"resume","since":1e30}'],
    ['a binary frame', new Uint8Array([0, 1, 2, 255])],
    [
      'a binary frame holding a valid ping',
      new TextEncoder().encode('{"type":"ping"}') as Uint8Array<ArrayBuffer>,
    ],
  ]

  async function sendAllBad(socket: TestSocket) {
    for (const [what, frame] of badFrames) {
      socket.sendRaw(frame)
      const error = await socket.next<{ type: 'error'; code: string; message: string }>('error')
      expect({ what, code: error.code }).toEqual({ what, code: 'INVALID_MESSAGE' })
      expect(error.message).toBeString()
    }
    // Still open and still answering.
    expect(socket.ws.readyState).toBe(WebSocket.OPEN)
    socket.send({ type: 'ping' })
    expect(await socket.next('pong')).toEqual({ type: 'pong' })
  }

  test('on an authenticated connection, which stays authenticated and keeps receiving', async () => {
    const socket = await connectAuthenticated(server.wsUrl, alice.token)
    await writesNothing(() => sendAllBad(socket))
    const response = await server.publish({ ...validPublish(), title: 'after the abuse' })
    expect(response.status).toBe(201)
    const frame = await socket.next<{ type: 'notification'; notification: Notification }>('notification')
    expect(frame.notification.title).toBe('after the abuse')
    // None of the bad frames did anything else: no second authentication, no resume, no close.
    const types = socket.messages.map((m) => m.type)
    expect(new Set(types)).toEqual(new Set(['connected', 'authenticated', 'error', 'pong', 'notification']))
    expect(types.filter((type) => type === 'authenticated')).toHaveLength(1)
    expect(types.filter((type) => type === 'error')).toHaveLength(badFrames.length)
    socket.close()
  })

  test('on an anonymous connection, which still gets broadcasts', async () => {
    const socket = connectSocket(server.wsUrl)
    await socket.next('connected')
    await sendAllBad(socket)
    expect((await server.broadcast({ type: 'still-here' })).status).toBe(202)
    expect(await socket.next('still-here')).toEqual({ type: 'still-here' })
    socket.close()
  })

  test('the server keeps serving HTTP and new connections afterwards', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
    const socket = await connectAuthenticated(server.wsUrl, alice.token)
    socket.send({ type: 'ping' })
    expect(await socket.next('pong')).toEqual({ type: 'pong' })
    socket.close()
  })
})
