import { afterAll, beforeAll, expect, test } from 'bun:test'
import fc from 'fast-check'
import {
  CONTRACT_CLOSE_CODES,
  CONTRACT_WS_ERROR_CODES,
  checkProperty,
  contractErrorProblem,
  fuzzSeed,
  mib,
  settledMemory,
  watchUnhandledRejections,
} from '../../../test/helpers/fuzz'
import { rawUpgrade } from '../../../test/helpers/rawUpgrade'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { type Session, signIn } from '../../../test/helpers/wallet'
import { connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import { type Notification, SERVER_MESSAGE_TYPES } from '../../shared/protocol'

// Property-based fuzzing of /ws (contract §2): random and mutated frames on anonymous and authenticated
// sockets, and random upgrade requests. Every frame gets the reply the contract names, errors carry contract
// codes, sockets close only with contract codes, nothing crashes and memory does not grow with the traffic.

const MAX_FRAME_BYTES = 4096
const TIME_LIMIT_MS = Number(process.env.HERALD_FUZZ_MS ?? 20_000)
const SERVER_TYPES: ReadonlySet<string> = new Set(SERVER_MESSAGE_TYPES)

let server: TestServer
let alice: Session

beforeAll(async () => {
  server = await startTestServer({
    MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
    // High budgets so frames reach the parser; the limits themselves are proven in abuse.test.ts.
    WS_MESSAGES_PER_SECOND: '100000',
    WS_USER_MESSAGES_PER_SECOND: '100000',
    WS_CONNECTIONS_PER_SECOND_PER_IP: '100000',
    MAX_ANONYMOUS_CONNECTIONS_PER_IP: '1000',
    MAX_CONNECTIONS_PER_USER: '1000',
  })
  alice = await signIn(server.url)
  for (let i = 0; i < 3; i++)
    await server.publish({ userId: alice.user.id, type: 't', title: `${i}`, message: 'm' })
}, 60_000)
afterAll(async () => {
  await server?.stop()
}, 30_000)

// ── Frames ───────────────────────────────────────────────────────────────────────────────────────────

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    -1,
    0.5,
    1e21,
    1e308,
    -0,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    '5',
    '',
    '\u0000',
    '\ud800',
    '😀',
    null,
    true,
    [],
    {},
    [1, 2],
    { nested: { deeper: [null] } },
  ),
)

/** Stands for alice's real token in generated frames (it exists only once the server runs). */
const VALID_TOKEN = '<alice-token>'

/** A frame as sent: text (any string, valid JSON or not) or binary bytes. */
type Frame = { kind: 'text'; data: string } | { kind: 'binary'; data: Uint8Array<ArrayBuffer> }

const validMessage = () =>
  fc.oneof(
    fc.constant<Record<string, unknown>>({ type: 'ping' }),
    fc.nat({ max: 10 }).map((since) => ({ type: 'resume', since })),
    fc.string({ minLength: 1, maxLength: 40 }).map((token) => ({ type: 'auth', token })),
    fc.constant({ type: 'auth', token: VALID_TOKEN }),
  )

const mutatedMessage = validMessage().chain((message) =>
  fc
    .oneof(
      fc.constant((m: Record<string, unknown>) => m),
      junk.map((value) => (m: Record<string, unknown>) => ({ ...m, type: value })),
      fc
        .constantFrom('since', 'token', 'extra')
        .chain((key) => junk.map((value) => (m: Record<string, unknown>) => ({ ...m, [key]: value }))),
      fc.constantFrom('type', 'since', 'token').map((key) => (m: Record<string, unknown>) => {
        const copy = { ...m }
        delete copy[key]
        return copy
      }),
      fc
        .constantFrom(
          'PING',
          'Ping',
          'auth ',
          'resume\u0000',
          'notification',
          'subscribe',
          '__proto__',
          'constructor',
        )
        .map((type) => (m: Record<string, unknown>) => ({ ...m, type })),
    )
    .map((mutate) => mutate(message)),
)

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 6, arbitrary: mutatedMessage.map((m) => ({ kind: 'text' as const, data: JSON.stringify(m) })) },
  {
    weight: 2,
    arbitrary: junk.map((v) => ({ kind: 'text' as const, data: JSON.stringify(v) ?? 'undefined' })),
  },
  {
    weight: 2,
    arbitrary: fc.string({ unit: 'binary', maxLength: 100 }).map((data) => ({ kind: 'text' as const, data })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '',
        '{',
        '{"type":',
        '{"type":"ping"',
        ' {"type":"ping"}',
        '{"type":"ping"} ',
        '"{\\"type\\":\\"ping\\"}"',
        '[{"type":"ping"}]',
        '{"type":"resume","since":1e999}',
        '{"type":"resume","since":-0}',
        '{"type":"resume","since":5.0}',
        '{"type":"resume","since":"5"}',
        '{"type":"ping","type":"auth"}',
        '{"__proto__":{"type":"ping"}}',
        'null',
        'true',
        '12345',
        '/regex/',
      )
      .map((data) => ({ kind: 'text' as const, data })),
  },
  {
    weight: 2,
    arbitrary: fc
      .uint8Array({ maxLength: 64 })
      .map((bytes) => ({ kind: 'binary' as const, data: new Uint8Array(bytes) as Uint8Array<ArrayBuffer> })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('{"type":"ping"}', '{"type":"resume","since":0}').map((data) => ({
      kind: 'binary' as const,
      data: new TextEncoder().encode(data) as Uint8Array<ArrayBuffer>,
    })),
  },
  {
    // Near the frame limit, on both sides of it.
    weight: 1,
    arbitrary: fc.integer({ min: -8, max: 8 }).map((delta) => {
      const base = JSON.stringify({ type: 'ping', pad: '' })
      const pad = 'x'.repeat(MAX_FRAME_BYTES + delta - base.length)
      return { kind: 'text' as const, data: JSON.stringify({ type: 'ping', pad }) }
    }),
  },
)

// ── The contract's answer to one frame ───────────────────────────────────────────────────────────────

/**
 * What a frame must produce: replies as a set of acceptable alternatives, or a close. `anonymous` is the
 * socket's state when the frame is handled.
 */
type Expectation =
  | { kind: 'reply'; oneOf: string[] }
  | { kind: 'close'; code: number; error?: string }
  /** Readings disagree between a reply and a close: only the shape of what comes is checked. */
  | { kind: 'either' }

/**
 * Frames that are JSON by the letter but that a server may fairly read as text: padded with whitespace, or
 * a JSON string holding an object. The contract says "one JSON object" without settling these, so either
 * reading is accepted for them.
 */
function jsonReadings(data: string): unknown[] {
  let strict: unknown
  try {
    strict = JSON.parse(data)
  } catch {
    return [data]
  }
  const first = data.charCodeAt(0)
  return first === 123 || first === 91 ? [strict] : [strict, data]
}

function expectationFor(frame: Frame, anonymous: boolean): Expectation {
  const size = frame.kind === 'text' ? Buffer.byteLength(frame.data) : frame.data.byteLength
  if (size > MAX_FRAME_BYTES) return { kind: 'close', code: 1009 }
  if (frame.kind === 'binary') return { kind: 'reply', oneOf: ['error:INVALID_MESSAGE'] }
  const readings = jsonReadings(frame.data).map((value) => expectationForValue(value, anonymous))
  if (readings.length === 1) return readings[0]!
  if (readings.every((r) => r.kind === 'reply'))
    return { kind: 'reply', oneOf: readings.flatMap((r) => (r.kind === 'reply' ? r.oneOf : [])) }
  return { kind: 'either' }
}

function expectationForValue(value: unknown, anonymous: boolean): Expectation {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { kind: 'reply', oneOf: ['error:INVALID_MESSAGE'] }
  const message = value as Record<string, unknown>
  switch (message.type) {
    case 'ping':
      // "ping takes no fields" is also a fair answer to a ping with extra fields.
      return {
        kind: 'reply',
        oneOf: Object.keys(message).length === 1 ? ['pong'] : ['pong', 'error:INVALID_MESSAGE'],
      }
    case 'auth':
      if (typeof message.token !== 'string' || message.token.length === 0)
        return { kind: 'reply', oneOf: ['error:INVALID_MESSAGE'] }
      // A fresh token of the same user authenticates (or refreshes); any other is refused and closes 4001.
      if (message.token === alice.token) return { kind: 'reply', oneOf: ['authenticated'] }
      return { kind: 'close', code: 4001, error: 'UNAUTHORIZED' }
    case 'resume': {
      const since = message.since
      if (
        typeof since !== 'number' ||
        !Number.isInteger(since) ||
        since < 0 ||
        since > Number.MAX_SAFE_INTEGER
      )
        return { kind: 'reply', oneOf: ['error:INVALID_MESSAGE'] }
      return anonymous
        ? { kind: 'reply', oneOf: ['error:UNAUTHORIZED'] }
        : { kind: 'reply', oneOf: ['resumed', 'reset'] }
    }
    default:
      return { kind: 'reply', oneOf: ['error:INVALID_MESSAGE'] }
  }
}

const label = (m: { type: string; code?: unknown }) =>
  m.type === 'error' ? `error:${String(m.code)}` : m.type

/** Every server message on any socket: a JSON object with a known type; errors with a contract code. */
function checkShape(messages: { type: string; [key: string]: unknown }[]) {
  for (const m of messages) {
    if (typeof m !== 'object' || m === null || typeof m.type !== 'string')
      throw new Error(`not a message: ${JSON.stringify(m)}`)
    if (!SERVER_TYPES.has(m.type)) throw new Error(`unknown message type ${m.type}`)
    if (m.type === 'error') {
      if (!CONTRACT_WS_ERROR_CODES.has(String(m.code)))
        throw new Error(`error code ${String(m.code)} not in the contract`)
      if (typeof m.message !== 'string' || m.message.length === 0) throw new Error('error without a message')
    }
  }
}

// ── Sockets reused across cases (opening one per case would measure the handshake, not the parser) ─────

const sockets: { anonymous: TestSocket | null; alice: TestSocket | null } = { anonymous: null, alice: null }

async function fresh(kind: 'anonymous' | 'alice'): Promise<TestSocket> {
  const current = sockets[kind]
  if (current && current.ws.readyState === WebSocket.OPEN) return current
  const socket = connectSocket(server.wsUrl)
  await socket.opened
  await socket.next('connected')
  if (kind === 'alice') {
    socket.send({ type: 'auth', token: alice.token })
    await socket.next('authenticated')
  }
  sockets[kind] = socket
  return socket
}

/** Sends the frames one by one, checking each reply (or the close) against the contract. */
async function runFrames(kind: 'anonymous' | 'alice', frames: Frame[]) {
  const socket = await fresh(kind)
  const start = socket.messages.length
  const describe = () =>
    `frames: ${JSON.stringify(frames.map((f) => (f.kind === 'text' ? f.data.slice(0, 200) : `<binary ${f.data.length}>`)))}\n` +
    `received: ${JSON.stringify(socket.messages.slice(start)).slice(0, 2000)}`
  let anonymous = kind === 'anonymous'
  for (const generated of frames) {
    const frame: Frame =
      generated.kind === 'text'
        ? { kind: 'text', data: generated.data.replaceAll(VALID_TOKEN, alice.token) }
        : generated
    const expectation = expectationFor(frame, anonymous)
    const seen = socket.messages.length
    if (frame.kind === 'text') socket.ws.send(frame.data)
    else socket.sendRaw(frame.data)
    if (expectation.kind === 'close') {
      const closed = await Promise.race([socket.closed, Bun.sleep(10_000).then(() => null)])
      if (!closed) throw new Error(`expected close ${expectation.code}, still open\n${describe()}`)
      if (closed.code !== expectation.code || !CONTRACT_CLOSE_CODES.has(closed.code))
        throw new Error(`expected close ${expectation.code}, got ${closed.code}\n${describe()}`)
      if (expectation.error) {
        const errors = socket.messages.slice(seen).filter((m) => m.type === 'error') as { code: string }[]
        if (errors.length !== 1 || errors[0]!.code !== expectation.error)
          throw new Error(`expected one ${expectation.error} before the close\n${describe()}`)
      }
      checkShape(socket.messages.slice(start) as never)
      return
    }
    if (expectation.kind === 'either') {
      await Promise.race([
        socket.closed,
        socket.next((m) => socket.messages.indexOf(m) >= seen, 10_000).catch(() => {}),
      ])
      if (socket.ws.readyState !== WebSocket.OPEN) {
        const closed = await socket.closed
        if (!CONTRACT_CLOSE_CODES.has(closed.code)) throw new Error(`close ${closed.code}\n${describe()}`)
        break
      }
      continue
    }
    // The reply to this frame: the first message after it that is not a replayed notification.
    const reply = await socket
      .next((m) => socket.messages.indexOf(m) >= seen && m.type !== 'notification', 10_000)
      .catch(() => null)
    if (!reply) {
      const closed = await Promise.race([socket.closed, Bun.sleep(0).then(() => null)])
      throw new Error(
        `no reply${closed ? ` (closed ${closed.code})` : ''}, expected ${expectation.oneOf}\n${describe()}`,
      )
    }
    if (!expectation.oneOf.includes(label(reply as never)))
      throw new Error(
        `expected ${expectation.oneOf.join(' or ')}, got ${label(reply as never)}\n${describe()}`,
      )
    if (reply.type === 'authenticated') {
      anonymous = false
      // The anonymous socket is alice's now: later cases get a fresh anonymous one.
      if (kind === 'anonymous') sockets.anonymous = null
    }
  }
  if (!anonymous && kind === 'anonymous') socket.close()
  checkShape(socket.messages.slice(start) as never)
  // Replays carry alice's notifications (seqs 1..3), each strictly after the one before within a replay.
  let previous = 0
  for (const m of socket.messages.slice(start)) {
    if (m.type === 'resumed' || m.type === 'reset') previous = 0
    if (m.type !== 'notification') continue
    const seq = (m as { notification: Notification }).notification.seq
    if (seq <= previous || seq > 3) throw new Error(`replayed seq ${seq} after ${previous}\n${describe()}`)
    previous = seq
  }
}

test('random and mutated frames get the contract reply on anonymous and authenticated sockets', async () => {
  const watcher = watchUnhandledRejections()
  try {
    const property = fc.asyncProperty(
      fc.constantFrom<'anonymous' | 'alice'>('anonymous', 'alice'),
      fc.array(frameArb, { minLength: 1, maxLength: 6 }),
      async (kind, frames) => {
        await runFrames(kind, frames)
      },
    )
    const seed = fuzzSeed()
    await checkProperty('WS fuzz (warm-up)', property, {
      numRuns: 100,
      timeLimitMs: TIME_LIMIT_MS,
      seed: seed + 1,
    })
    const before = await settledMemory()
    const { numRuns } = await checkProperty('WS fuzz', property, {
      numRuns: 5000,
      timeLimitMs: TIME_LIMIT_MS,
      seed,
    })
    for (const socket of Object.values(sockets)) socket?.close()
    await Promise.all(Object.values(sockets).map((s) => s?.closed))
    // Every socket the fuzzer opened is gone from the hub: no connection state outlives its socket.
    for (let i = 0; i < 100 && server.herald.connectionCount > 0; i++) await Bun.sleep(50)
    expect(server.herald.connectionCount).toBe(0)
    const after = await settledMemory()
    console.log(
      `WS fuzz: ${numRuns} frame sequences (seed ${seed}); heap ${mib(before.heapBytes)} → ${mib(after.heapBytes)} MiB, ` +
        `rss ${mib(before.rssBytes)} → ${mib(after.rssBytes)} MiB`,
    )
    expect(numRuns).toBeGreaterThanOrEqual(200)
    expect(after.heapBytes - before.heapBytes).toBeLessThan(64 * 1024 * 1024)
    expect(watcher.rejections).toEqual([])
  } finally {
    watcher.stop()
    for (const socket of Object.values(sockets)) socket?.close()
  }
}, 120_000)

test('random upgrade requests are answered 101 or with the contract error body', async () => {
  const watcher = watchUnhandledRejections()
  const opened: number[] = []
  try {
    const headerValue = fc.oneof(
      fc.string({ maxLength: 30 }).filter((v) => !/[\r\n]/.test(v) && v.trim() === v),
      fc.constantFrom('http://evil.example', 'null', '', '1.2.3.4', 'websocket', '13', '8'),
    )
    const property = fc.asyncProperty(
      fc.record({
        query: fc.oneof(
          fc.constant(''),
          fc.string({ maxLength: 40 }).map((token) => `?token=${encodeURIComponent(token)}`),
          fc.constantFrom(
            '?token=',
            '?token=a&token=b',
            '?token',
            '?x=1',
            '?token=%zz',
            `?token=${'a'.repeat(3000)}`,
          ),
          fc.constant('valid'),
        ),
        headers: fc.dictionary(
          fc.constantFrom(
            'Origin',
            'X-Forwarded-For',
            'Sec-WebSocket-Protocol',
            'Sec-WebSocket-Extensions',
            'X-Junk',
          ),
          headerValue,
          { maxKeys: 3 },
        ),
      }),
      async ({ query, headers }) => {
        const search = query === 'valid' ? `?token=${alice.token}` : query
        const answer = await rawUpgrade(`${server.wsUrl}${search}`, headers)
        if (answer.status === 101) {
          opened.push(1)
          return
        }
        if (![400, 401, 403, 422, 429].includes(answer.status))
          throw new Error(`upgrade ${search} ${JSON.stringify(headers)} → ${answer.status} ${answer.body}`)
        const problem = contractErrorProblem(answer.status, new Headers(answer.headers), answer.body)
        if (problem)
          throw new Error(`upgrade ${search} ${JSON.stringify(headers)} → ${answer.status}: ${problem}`)
      },
    )
    const { numRuns } = await checkProperty('WS upgrade fuzz', property, {
      numRuns: 400,
      timeLimitMs: 10_000,
    })
    expect(numRuns).toBeGreaterThanOrEqual(50)
    expect(watcher.rejections).toEqual([])
    for (let i = 0; i < 100 && server.herald.connectionCount > 0; i++) await Bun.sleep(50)
    expect(server.herald.connectionCount).toBe(0)
  } finally {
    watcher.stop()
  }
}, 60_000)
