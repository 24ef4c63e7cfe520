import { afterAll, beforeAll, expect, test } from 'bun:test'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import fc from 'fast-check'
import {
  checkProperty,
  contractErrorProblem,
  fuzzSeed,
  mib,
  settledMemory,
  watchUnhandledRejections,
} from '../../../test/helpers/fuzz'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import {
  AdminBroadcastResponseSchema,
  AdminPublishResponseSchema,
  ConfigResponseSchema,
  HealthResponseSchema,
  ListNotificationsResponseSchema,
  ListTokensResponseSchema,
  MarkAllReadResponseSchema,
  MarkReadResponseSchema,
  NonceResponseSchema,
  SessionResponseSchema,
  UnreadCountResponseSchema,
  UserSchema,
} from '../../shared/protocol'
import { jobs } from '../db/schema'

// Property-based fuzzing of every HTTP route on a live server (contract §1 and §3): whatever the method, path,
// query, headers and body, the answer is a contract status with the contract's body; never a 500, a dropped
// connection, an unhandled rejection or memory that keeps growing.

const MAX_BODY_BYTES = 4096
const TIME_LIMIT_MS = Number(process.env.HERALD_FUZZ_MS ?? 20_000)

let server: TestServer
let alice: Session
let bob: Session
const ids = { aliceNotifications: [] as string[], bobNotifications: [] as string[], aliceJob: '', bobJob: '' }

beforeAll(async () => {
  server = await startTestServer({
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    // High budgets so the fuzzer reaches validation; the limits themselves are proven in limits.test.ts.
    AUTH_RATE_PER_MINUTE: '1000000',
    ADMIN_RATE_PER_SECOND: '100000',
  })
  alice = await signIn(server.url)
  bob = await signIn(server.url)
  for (const [session, into] of [
    [alice, ids.aliceNotifications],
    [bob, ids.bobNotifications],
  ] as const) {
    for (let i = 0; i < 3; i++) {
      const response = await server.publish({
        userId: session.user.id,
        type: 't',
        title: `${i}`,
        message: 'm',
      })
      into.push(((await response.json()) as { notification: { id: string } }).notification.id)
    }
  }
  // Jobs come from token deployments, which need a chain; rows are enough for GET /api/jobs/:id.
  const [a, b] = await server.database.db
    .insert(jobs)
    .values([
      { userId: Number(alice.user.id), type: 'deploy_token', data: {} },
      { userId: Number(bob.user.id), type: 'deploy_token', data: {} },
    ])
    .returning({ id: jobs.id })
  ids.aliceJob = String(a!.id)
  ids.bobJob = String(b!.id)
}, 60_000)
afterAll(async () => {
  await server?.stop()
}, 30_000)

// ── What a request may look like ─────────────────────────────────────────────────────────────────────

/** Values of the wrong kind for any field: wrong types, huge and odd numbers, unicode, NULs, nesting. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    0,
    -1,
    -0,
    0.5,
    1e21,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    2 ** 53 + 2,
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\udfff\ud800',
    '😀',
    'null',
    'true',
    '[]',
    '{}',
    '1e999',
    '9'.repeat(40),
    '-1',
    '0x10',
    true,
    false,
    null,
    [],
    {},
    { $gt: 0 },
    { __proto__: { polluted: true } },
    ['a', 1, null],
  ),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.integer({ min: 55, max: 90 }).map((depth) => nest(depth)),
)

function nest(depth: number): unknown {
  let value: unknown = 'bottom'
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { d: value }
  return value
}

/** A valid body with, most of the time, one thing wrong: a field missing, replaced by junk, or an extra one. */
function mutated(template: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const keys = Object.keys(template)
  return fc
    .tuple(
      fc.record(template, { requiredKeys: [] }),
      fc.oneof(
        { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
        {
          weight: 2,
          arbitrary: fc.record({ kind: fc.constant('drop' as const), key: fc.constantFrom(...keys) }),
        },
        {
          weight: 4,
          arbitrary: fc.record({
            kind: fc.constant('set' as const),
            key: fc.constantFrom(...keys),
            value: junk,
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('set' as const),
            key: fc.string({ maxLength: 10 }),
            value: junk,
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('replace' as const), value: junk }) },
      ),
    )
    .map(([body, mutation]) => {
      if (mutation.kind === 'none') return body
      if (mutation.kind === 'replace') return mutation.value
      const copy: Record<string, unknown> = { ...body }
      if (mutation.kind === 'drop') delete copy[mutation.key]
      else copy[mutation.key] = mutation.value
      return copy
    })
}

const text = (maxLength = 60) => fc.string({ unit: 'grapheme', maxLength })
const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((bytes) => `0x${Buffer.from(bytes).toString('hex')}`)
const realUserId = () => fc.constantFrom(alice.user.id, bob.user.id)

const bodies = {
  verify: () =>
    mutated({
      message: fc.oneof(
        text(200),
        fc.constant(
          `127.0.0.1 wants you to sign in with your Ethereum account:\n${alice.user.address}\n\nURI: http://x/\nVersion: 1\nChain ID: 31337\nNonce: abcdefghijklmnop1234\nIssued At: 2024-01-01T00:00:00Z`,
        ),
      ),
      signature: fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 80 }).map((b) => `0x${Buffer.from(b).toString('hex')}`),
        text(),
      ),
    }),
  publish: () =>
    mutated({
      userId: fc.oneof(realUserId(), fc.integer({ min: 1, max: 10 ** 9 }).map(String)),
      address,
      type: text(20),
      title: text(),
      message: text(),
      data: fc.oneof(fc.jsonValue({ maxDepth: 4 }), junk),
    }),
  broadcast: () => mutated({ message: mutated({ type: text(20), payload: fc.jsonValue({ maxDepth: 3 }) }) }),
  token: () =>
    mutated({
      name: text(70),
      symbol: fc.stringMatching(/^[A-Z0-9]{1,12}$/),
      initialSupply: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 80n }).map(String), text(10)),
    }),
  anything: () => fc.oneof(fc.constant(undefined), junk),
}

/** Path ids: real ones (the caller's and someone else's), well-formed unknown ones, and everything else. */
const pathId = () =>
  fc.oneof(
    fc.constantFrom(...ids.aliceNotifications, ...ids.bobNotifications, ids.aliceJob, ids.bobJob),
    fc.integer({ min: 1, max: 10 ** 9 }).map(String),
    fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String),
    fc.integer({ min: -1000, max: 0 }).map(String),
    fc.double({ noNaN: false }).map(String),
    fc.constantFrom('', '0', '01', '1e3', '0x10', '1.5', '999999999999999', '9999999999999999', '%00', '..'),
    text(20).map(encodeURIComponent),
  )

const query = (keys: Record<string, fc.Arbitrary<string>>) =>
  fc
    .tuple(
      fc.record(keys, { requiredKeys: [] }),
      fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 })), { maxLength: 3 }),
      fc.constantFrom('', '', '', '&', '&&=', '%', '%zz', '&limit=1&limit=2', '&unread', '&before=', '#frag'),
    )
    .map(([known, extra, raw]) => {
      const params = new URLSearchParams()
      for (const [key, value] of Object.entries(known)) params.append(key, value as string)
      for (const [key, value] of extra) params.append(key, value)
      const search = params.toString() + raw
      return search ? `?${search}` : ''
    })

const numeric = fc.oneof(
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  fc.constantFrom(
    '',
    'abc',
    '1.5',
    '1e3',
    '9007199254740991',
    '9007199254740992',
    'NaN',
    'Infinity',
    '-0',
    ' 5',
  ),
)

interface RouteSpec {
  method: string
  path: fc.Arbitrary<string>
  body: fc.Arbitrary<unknown>
  query: fc.Arbitrary<string>
}

function routes(): RouteSpec[] {
  const noQuery = query({})
  const none = bodies.anything()
  const at = (path: string) => fc.constant(path)
  return [
    { method: 'POST', path: at('/api/auth/nonce'), body: none, query: noQuery },
    { method: 'POST', path: at('/api/auth/verify'), body: bodies.verify(), query: noQuery },
    { method: 'POST', path: at('/api/auth/refresh'), body: none, query: noQuery },
    { method: 'POST', path: at('/api/auth/logout'), body: none, query: noQuery },
    { method: 'GET', path: at('/api/me'), body: none, query: noQuery },
    {
      method: 'GET',
      path: at('/api/notifications'),
      body: none,
      query: query({
        limit: numeric,
        before: numeric,
        unread: fc.constantFrom('true', 'false', '1', '0', 'yes', ''),
      }),
    },
    { method: 'GET', path: at('/api/notifications/unread-count'), body: none, query: noQuery },
    {
      method: 'POST',
      path: pathId().map((id) => `/api/notifications/${id}/read`),
      body: none,
      query: noQuery,
    },
    { method: 'POST', path: at('/api/notifications/read-all'), body: none, query: noQuery },
    { method: 'GET', path: at('/api/tokens'), body: none, query: noQuery },
    { method: 'POST', path: at('/api/tokens'), body: bodies.token(), query: noQuery },
    { method: 'GET', path: pathId().map((id) => `/api/jobs/${id}`), body: none, query: noQuery },
    { method: 'POST', path: at('/api/admin/notifications'), body: bodies.publish(), query: noQuery },
    { method: 'POST', path: at('/api/admin/broadcast'), body: bodies.broadcast(), query: noQuery },
    { method: 'GET', path: at('/health'), body: none, query: noQuery },
    { method: 'GET', path: at('/api/config'), body: none, query: noQuery },
    {
      method: 'GET',
      path: fc.oneof(
        text(30).map((p) => `/api/${encodeURIComponent(p)}`),
        fc.constantFrom(
          '/api',
          '/api/',
          '/api/admin',
          '/api/notifications/1',
          '/ws/x',
          '/metricsx',
          '/openapi/x',
        ),
      ),
      body: none,
      query: noQuery,
    },
  ]
}

type Auth = 'none' | 'alice' | 'bob' | 'admin' | 'garbage' | 'mutated' | 'basic' | 'empty' | 'lowercase'
const authArb = fc.constantFrom<Auth>(
  'none',
  'alice',
  'alice',
  'bob',
  'admin',
  'admin',
  'garbage',
  'mutated',
  'basic',
  'empty',
  'lowercase',
)

function authorization(auth: Auth, path: string, flip: number): string | undefined {
  // A logout with a real token ends that session for the rest of the run; it gets a broken one instead.
  if (path === '/api/auth/logout' && (auth === 'alice' || auth === 'bob')) auth = 'mutated'
  switch (auth) {
    case 'none':
      return undefined
    case 'alice':
      return `Bearer ${alice.token}`
    case 'bob':
      return `Bearer ${bob.token}`
    case 'admin':
      return `Bearer ${ADMIN_KEY}`
    case 'garbage':
      return 'Bearer not-a-jwt'
    case 'mutated': {
      // One character of the signature, never its last: the last base64url character carries padding bits,
      // so changing it can decode to the same signature and leave the token valid.
      const signature = alice.token.lastIndexOf('.') + 1
      const i = signature + (flip % (alice.token.length - signature - 1))
      const swapped = alice.token[i] === 'A' ? 'B' : 'A'
      return `Bearer ${alice.token.slice(0, i)}${swapped}${alice.token.slice(i + 1)}`
    }
    case 'basic':
      return 'Basic YWxpY2U6c2VjcmV0'
    case 'empty':
      return 'Bearer '
    case 'lowercase':
      if (path === '/api/auth/logout') return 'Bearer not-a-jwt'
      return `bearer ${alice.token}`
  }
}

type BodyEncoding = 'json' | 'text' | 'bytes' | 'none' | 'nearLimit' | 'streamed'
const requestArb = () =>
  fc.constantFrom(...routes()).chain((route) =>
    fc.record({
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
      ),
      path: route.path,
      query: route.query,
      body: route.body,
      encoding: fc.constantFrom<BodyEncoding>(
        'json',
        'json',
        'json',
        'text',
        'bytes',
        'none',
        'nearLimit',
        'streamed',
      ),
      rawText: fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.constantFrom(
          '{',
          '{"a":',
          '[1,2',
          '{"limit": 1e999}',
          'null',
          '""',
          '{"a":1} x',
          '\ufeff{}',
          '{}',
        ),
      ),
      bytes: fc.uint8Array({ maxLength: 200 }),
      nearLimitDelta: fc.integer({ min: -16, max: 16 }),
      contentType: fc.constantFrom(
        'application/json',
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        'application/json; charset=latin1',
        'garbage/x',
        null,
      ),
      auth: authArb,
      flip: fc.nat(),
      origin: fc.constantFrom(null, null, null, 'same', 'http://evil.example', 'null', 'not a url'),
      forwardedFor: fc.constantFrom(null, '1.2.3.4', 'garbage, , ::1', '999.999.999.999'),
      // Reused keys replay or refuse another body; odd ones (empty, too long, Latin-1) are a 400.
      idempotencyKey: fc.oneof(
        { weight: 6, arbitrary: fc.constant(null) },
        { weight: 3, arbitrary: fc.constantFrom('fuzz-1', 'fuzz-2', ' ', '~'.repeat(255)) },
        {
          weight: 1,
          arbitrary: fc.string({
            unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code)),
            maxLength: 300,
          }),
        },
      ),
    }),
  )

type Req = ReturnType<typeof requestArb> extends fc.Arbitrary<infer R> ? R : never

function encodeBody(req: Req): BodyInit | undefined {
  switch (req.encoding) {
    case 'none':
      return undefined
    case 'json':
      return req.body === undefined ? undefined : JSON.stringify(req.body)
    case 'text':
      return req.rawText
    case 'bytes':
      return req.bytes
    case 'nearLimit': {
      const target = MAX_BODY_BYTES + req.nearLimitDelta
      const base = JSON.stringify({ pad: '' })
      return JSON.stringify({ pad: 'x'.repeat(Math.max(0, target - base.length)) })
    }
    case 'streamed': {
      const bytes = new TextEncoder().encode(
        req.body === undefined
          ? JSON.stringify({ pad: 'y'.repeat(MAX_BODY_BYTES) })
          : JSON.stringify(req.body),
      )
      return new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 512) controller.enqueue(bytes.slice(i, i + 512))
          controller.close()
        },
      })
    }
  }
}

// ── What the answer must be ──────────────────────────────────────────────────────────────────────────

const successSchemas: Record<string, ReturnType<typeof TypeCompiler.Compile>> = {
  'POST /api/auth/nonce': TypeCompiler.Compile(NonceResponseSchema),
  'POST /api/auth/verify': TypeCompiler.Compile(SessionResponseSchema),
  'POST /api/auth/refresh': TypeCompiler.Compile(SessionResponseSchema),
  'GET /api/me': TypeCompiler.Compile(UserSchema),
  'GET /api/notifications': TypeCompiler.Compile(ListNotificationsResponseSchema),
  'GET /api/notifications/unread-count': TypeCompiler.Compile(UnreadCountResponseSchema),
  'POST /api/notifications/read-all': TypeCompiler.Compile(MarkAllReadResponseSchema),
  'POST /api/notifications/:id/read': TypeCompiler.Compile(MarkReadResponseSchema),
  'GET /api/tokens': TypeCompiler.Compile(ListTokensResponseSchema),
  'POST /api/admin/notifications': TypeCompiler.Compile(AdminPublishResponseSchema),
  'POST /api/admin/broadcast': TypeCompiler.Compile(AdminBroadcastResponseSchema),
  'GET /health': TypeCompiler.Compile(HealthResponseSchema),
  'GET /api/config': TypeCompiler.Compile(ConfigResponseSchema),
}
const routeKey = (method: string, path: string) =>
  `${method} ${path.replace(/^\/api\/notifications\/[^/]+\/read$/, '/api/notifications/:id/read')}`

const CONTRACT_STATUSES = new Set([200, 201, 202, 204, 400, 401, 403, 404, 413, 422, 429])

async function send(req: Req): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = {}
  const auth = authorization(req.auth, req.path, req.flip)
  if (auth !== undefined) headers.authorization = auth
  if (req.contentType !== null) headers['content-type'] = req.contentType
  if (req.origin !== null) headers.origin = req.origin === 'same' ? server.url : req.origin
  if (req.forwardedFor !== null) headers['x-forwarded-for'] = req.forwardedFor
  if (req.idempotencyKey !== null) headers['idempotency-key'] = req.idempotencyKey
  const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : encodeBody(req)
  const response = await fetch(`${server.url}${req.path}${req.query}`, {
    method: req.method,
    headers,
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit)
  return { status: response.status, headers: response.headers, text: await response.text() }
}

/** Throws, describing the request, when the answer breaks the contract. */
function judge(req: Req, answer: { status: number; headers: Headers; text: string }) {
  const { status, headers, text: body } = answer
  const fail = (why: string) => {
    throw new Error(`${req.method} ${req.path}${req.query} → ${status}: ${why}\nbody: ${body.slice(0, 500)}`)
  }
  const key = routeKey(req.method, req.path)
  // No chain is configured, so a valid deployment request is the one expected 503.
  const expected503 = key === 'POST /api/tokens'
  if (!CONTRACT_STATUSES.has(status) && !(status === 503 && expected503)) fail('not a contract status')
  if (headers.get('x-content-type-options') !== 'nosniff') fail('missing the security headers')
  if (status >= 400) {
    const problem = contractErrorProblem(status, headers, body)
    if (problem) fail(problem)
  }
  const isAdmin = req.path.startsWith('/api/admin/')
  const userRoute = /^\/api\/(auth\/(refresh|logout)|me|notifications|tokens|jobs)/.test(req.path)
  // The scheme is case-insensitive (RFC 7235), so "bearer <alice's token>" is alice too.
  const validUser =
    (req.auth === 'alice' || req.auth === 'bob' || req.auth === 'lowercase') &&
    req.path !== '/api/auth/logout'
  if (status < 300 && isAdmin && req.auth !== 'admin') fail('admin route answered without the key')
  if (status < 300 && userRoute && !validUser && req.method !== 'OPTIONS')
    fail('user route answered without a session')
  // The key is checked before the body is validated (never a 422 without it); a body that is not JSON at all
  // is refused (400) while it is parsed, which comes first in the framework.
  if (isAdmin && req.auth !== 'admin' && req.method === 'POST' && ![400, 401, 403, 404, 413].includes(status))
    fail('admin route without the key must be 401 before the body is validated')
  if (status >= 200 && status < 300 && status !== 204) {
    const schema = successSchemas[key]
    if (schema) {
      let parsed: unknown
      try {
        parsed = JSON.parse(body)
      } catch {
        fail('success body is not JSON')
      }
      if (!schema.Check(parsed))
        fail(`success body does not match the contract: ${[...schema.Errors(parsed)][0]?.message}`)
    }
  }
  // Someone else's notification or job is exactly as absent as a missing one.
  const other = req.auth === 'alice' || req.auth === 'lowercase' ? 'bob' : req.auth === 'bob' ? 'alice' : null
  if (other && req.method !== 'OPTIONS') {
    const read = /^\/api\/notifications\/([^/]+)\/read$/.exec(req.path)?.[1]
    const job = /^\/api\/jobs\/([^/]+)$/.exec(req.path)?.[1]
    const theirs =
      (read !== undefined && ids[`${other}Notifications`].includes(read)) ||
      (job !== undefined && job === ids[`${other}Job`])
    // Whatever else is wrong with the request, it never succeeds (isolation.test.ts proves the exact 404).
    if (theirs && status < 400) fail(`${req.auth} reached ${other}'s ${read ?? job}`)
  }
}

test('every route answers random and mutated requests as the contract says, without leaking memory', async () => {
  const watcher = watchUnhandledRejections()
  try {
    const property = fc.asyncProperty(requestArb(), async (req) => {
      judge(req, await send(req))
    })
    const seed = fuzzSeed()
    // Warm-up: JIT, pools and caches settle before the first memory sample.
    await checkProperty('HTTP fuzz (warm-up)', property, {
      numRuns: 300,
      timeLimitMs: TIME_LIMIT_MS,
      seed: seed + 1,
    })
    const before = await settledMemory()
    const { numRuns } = await checkProperty('HTTP fuzz', property, {
      numRuns: 20_000,
      timeLimitMs: TIME_LIMIT_MS,
      seed,
    })
    const after = await settledMemory()
    console.log(
      `HTTP fuzz: ${numRuns} requests (seed ${seed}); heap ${mib(before.heapBytes)} → ${mib(after.heapBytes)} MiB, ` +
        `rss ${mib(before.rssBytes)} → ${mib(after.rssBytes)} MiB`,
    )
    expect(numRuns).toBeGreaterThanOrEqual(500)
    // Generous: the inputs are stored (notifications, users), but the heap must not track the request count.
    expect(after.heapBytes - before.heapBytes).toBeLessThan(64 * 1024 * 1024)
    // The server still serves, and its sessions still work.
    const health = await fetch(`${server.url}/health`)
    expect(health.status).toBe(200)
    const me = await fetch(`${server.url}/api/me`, { headers: bearer(alice.token) })
    expect(me.status).toBe(200)
    expect(watcher.rejections).toEqual([])
  } finally {
    watcher.stop()
  }
}, 120_000)

test('a body field of the wrong type that cannot be printed is a 422 naming it, not a 500', async () => {
  const cases: [string, string, Record<string, string>][] = [
    ['/api/tokens', '{"name":{"toString":false},"symbol":"A","initialSupply":"1"}', bearer(alice.token)],
    ['/api/tokens', '{"name":"n","symbol":{"valueOf":1},"initialSupply":"1"}', bearer(alice.token)],
    ['/api/auth/verify', '{"message":{"toString":false},"signature":"0x00"}', {}],
  ]
  for (const [path, body, headers] of cases) {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
    })
    const text = await response.text()
    expect({ path, status: response.status, text }).toMatchObject({ status: 422 })
    expect(contractErrorProblem(422, response.headers, text)).toBeNull()
    const field = Object.keys(JSON.parse(body)).find((key) => typeof JSON.parse(body)[key] === 'object')!
    expect(JSON.parse(text).error.message).toContain(`body.${field}`)
  }
})

// Elysia builds its validation message with `${value}`, which throws for {"toString": <not a function>}:
// without withBody's own check on the route this was a 500.
test('admin routes: a body field that cannot be printed is a 422, not a 500', async () => {
  for (const [path, body] of [
    ['/api/admin/notifications', '{"userId":"1","type":{"toString":false},"title":"x","message":"y"}'],
    ['/api/admin/broadcast', '{"message":{"type":{"toString":1}}}'],
  ] as const) {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
      body,
    })
    expect({ path, status: response.status }).toEqual({ path, status: 422 })
  }
})

test('logout with a real token answers 204 and the token stops working (the one route the fuzzer spares)', async () => {
  const carol = await signIn(server.url)
  const out = await fetch(`${server.url}/api/auth/logout`, {
    method: 'POST',
    headers: { ...bearer(carol.token), 'content-type': 'application/json' },
    body: '{"junk": [1, {"x": null}]}',
  })
  expect(out.status).toBe(204)
  const me = await fetch(`${server.url}/api/me`, { headers: bearer(carol.token) })
  expect(me.status).toBe(401)
  expect(contractErrorProblem(401, me.headers, await me.text())).toBeNull()
}, 30_000)
