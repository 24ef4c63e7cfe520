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
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { type Session, signIn } from '../../../test/helpers/wallet'
import { connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import { type Notification, readChannelName, SERVER_MESSAGE_TYPES } from '../../shared/protocol'

// Property-based fuzzing of /ws (contract §2): random and mutated frames on anonymous and authenticated
// sockets, and random upgrade requests. Every frame gets the reply the contract names, errors carry contract
// codes, sockets close only with contract codes, nothing crashes and memory does not grow with the traffic.

const MAX_FRAME_BYTES = 4096
const MAX_PUBLICATION_BYTES = 512
const TIME_LIMIT_MS = Number(process.env.HERALD_FUZZ_MS ?? 20_000)
const SERVER_TYPES: ReadonlySet<string> = new Set(SERVER_MESSAGE_TYPES)
/** Messages pushed to a socket rather than answering one of its frames. */
const PUSHED: ReadonlySet<string> = new Set(['notification', 'publication', 'join', 'leave'])

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
    MAX_PUBLICATION_BYTES: String(MAX_PUBLICATION_BYTES),
    CHANNEL_PUBLISHES_PER_SECOND: '100000',
  })
  alice = await signIn(server.url)
  const issued = await fetch(`${server.url}/api/admin/channel-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ userId: alice.user.id, channel: PRIVATE_CHANNEL }),
  })
  channelToken = ((await issued.json()) as { token: string }).token
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
/** Stands for alice's subscription token for PRIVATE_CHANNEL. */
const VALID_CHANNEL_TOKEN = '<alice-channel-token>'
const PRIVATE_CHANNEL = 'private:fuzz'
/** A few names of each kind, so every socket's subscriptions stay far below the limit. */
const CHANNEL_NAMES = [
  'public:fuzz',
  'public:fuzz.b',
  'token:0x00000000000000000000000000000000000000f0',
  PRIVATE_CHANNEL,
  'private:other',
  'holders:0x00000000000000000000000000000000000000f1',
  'nope:x',
  'public:',
  'public:a b',
  `public:${'x'.repeat(200)}`,
  'token:0x12',
]
let channelToken = ''
/** Names for generated channel messages: the private channel alice may enter comes up most. */
const channelName = fc.oneof(
  { weight: 3, arbitrary: fc.constant(PRIVATE_CHANNEL) },
  { weight: 4, arbitrary: fc.constantFrom(...CHANNEL_NAMES) },
)

/** A frame as sent: text (any string, valid JSON or not) or binary bytes. */
type Frame = { kind: 'text'; data: string } | { kind: 'binary'; data: Uint8Array<ArrayBuffer> }

const validMessage = () =>
  fc.oneof(
    fc.constant<Record<string, unknown>>({ type: 'ping' }),
    fc.nat({ max: 10 }).map((since) => ({ type: 'resume', since })),
    fc.string({ minLength: 1, maxLength: 40 }).map((token) => ({ type: 'auth', token })),
    fc.constant({ type: 'auth', token: VALID_TOKEN }),
    fc
      .record({
        channel: channelName,
        since: fc.option(fc.nat({ max: 5 }), { nil: undefined }),
        token: fc.option(fc.constantFrom(VALID_CHANNEL_TOKEN, VALID_CHANNEL_TOKEN, 'junk'), {
          nil: undefined,
          freq: 4,
        }),
      })
      .map((m) => ({ type: 'subscribe', ...m })),
    channelName.map((channel) => ({ type: 'unsubscribe', channel })),
    fc
      .record({
        channel: channelName,
        data: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant('x'.repeat(MAX_PUBLICATION_BYTES))),
        ref: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
      })
      .map((m) => ({ type: 'publish', ...m })),
    channelName.map((channel) => ({ type: 'presence', channel })),
  )

const mutatedMessage = validMessage().chain((message) =>
  fc
    .oneof(
      fc.constant((m: Record<string, unknown>) => m),
      junk.map((value) => (m: Record<string, unknown>) => ({ ...m, type: value })),
      fc
        .constantFrom('since', 'token', 'extra', 'channel', 'data', 'ref')
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
    case 'subscribe':
    case 'unsubscribe':
    case 'publish':
    case 'presence':
      return expectationForChannel(message, anonymous)
    default:
      return { kind: 'reply', oneOf: ['error:INVALID_MESSAGE'] }
  }
}

const isString = (value: unknown): value is string => typeof value === 'string'

/** The contract's answer to a channel message (docs/protocol.md §4), given only whether the socket is anonymous. */
function expectationForChannel(message: Record<string, unknown>, anonymous: boolean): Expectation {
  const invalid: Expectation = { kind: 'reply', oneOf: ['error:INVALID_MESSAGE'] }
  const { channel } = message
  if (!isString(channel)) return invalid
  const namespace = channel.slice(0, Math.max(0, channel.indexOf(':')))
  const named = readChannelName(channel).ok
  switch (message.type) {
    case 'subscribe': {
      const { since, token } = message
      if (since !== undefined && !(Number.isSafeInteger(since) && (since as number) >= 0)) return invalid
      if (token !== undefined && !(isString(token) && token.length > 0)) return invalid
      if (!named) return { kind: 'reply', oneOf: ['error:INVALID_CHANNEL'] }
      if (namespace === 'public' || namespace === 'token')
        return { kind: 'reply', oneOf: ['subscribed', 'channel_reset'] }
      // No chain here: holders' rooms are closed; a private room opens to alice's token for it only.
      if (!anonymous && channel === PRIVATE_CHANNEL && token === channelToken)
        return { kind: 'reply', oneOf: ['subscribed', 'channel_reset'] }
      return { kind: 'reply', oneOf: ['error:FORBIDDEN'] }
    }
    case 'unsubscribe':
      return { kind: 'reply', oneOf: [named ? 'unsubscribed' : 'error:INVALID_CHANNEL'] }
    case 'publish': {
      const { ref } = message
      if (!('data' in message)) return invalid
      if (ref !== undefined && !(isString(ref) && ref.length >= 1 && ref.length <= 100)) return invalid
      if (!named) return { kind: 'reply', oneOf: ['error:INVALID_CHANNEL'] }
      if (namespace === 'public' || namespace === 'token')
        return { kind: 'reply', oneOf: ['error:FORBIDDEN'] }
      // Whether this socket is subscribed to it depends on the frames before: any of the contract's answers.
      return {
        kind: 'reply',
        oneOf: ['published', 'error:FORBIDDEN', 'error:PAYLOAD_TOO_LARGE', 'error:INVALID_MESSAGE'],
      }
    }
    default:
      if (!named) return { kind: 'reply', oneOf: ['error:INVALID_CHANNEL'] }
      return { kind: 'reply', oneOf: ['presence', 'error:FORBIDDEN'] }
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

/** Per socket: the channels it is subscribed to, as of the first message not checked yet. */
const channelState = new WeakMap<TestSocket, { subscribed: Set<string>; checked: number }>()

/**
 * No publication, join or leave reaches a socket for a channel it is not subscribed to: each arrives between
 * the socket's `subscribed` (or `channel_reset`) for that channel and its `unsubscribed`, or, for a replay,
 * right before the `subscribed` that ends it. Checked incrementally, since sockets live across cases.
 */
function checkChannelRights(socket: TestSocket) {
  const state = channelState.get(socket) ?? { subscribed: new Set<string>(), checked: 0 }
  channelState.set(socket, state)
  const messages = socket.messages as { type: string; channel?: unknown }[]
  for (let i = state.checked; i < messages.length; i++) {
    const m = messages[i]!
    const channel = m.channel as string
    if (m.type === 'subscribed' || m.type === 'channel_reset') state.subscribed.add(channel)
    else if (m.type === 'unsubscribed') state.subscribed.delete(channel)
    else if (
      (m.type === 'publication' || m.type === 'join' || m.type === 'leave') &&
      !state.subscribed.has(channel)
    ) {
      const answer = messages
        .slice(i + 1)
        .find((n) => ['subscribed', 'channel_reset', 'error'].includes(n.type) && n.channel === channel)
      if (answer?.type !== 'subscribed')
        throw new Error(
          `${m.type} on ${channel} without a subscription: ${JSON.stringify(messages.slice(i, i + 20))}`,
        )
    }
  }
  state.checked = messages.length
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
        ? {
            kind: 'text',
            data: generated.data
              .replaceAll(VALID_TOKEN, alice.token)
              .replaceAll(VALID_CHANNEL_TOKEN, channelToken),
          }
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
    // The reply to this frame: the first message after it that is not a replayed notification or publication,
    // or a channel's join or leave.
    const reply = await socket
      .next((m) => socket.messages.indexOf(m) >= seen && !PUSHED.has(m.type), 10_000)
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
  checkChannelRights(socket)
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
