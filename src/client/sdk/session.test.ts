import { describe, expect, test } from 'bun:test'
import type { BroadcastMessage, Notification, ServerMessage } from '../../shared/protocol'
import { createEmitter, emissions } from './emitter'
import {
  initialSession,
  resumeRetryDelayMs,
  type SessionEffect,
  type SessionEvent,
  type SessionState,
  sessionReducer,
} from './session'
import { refreshDelayMs } from './tokens'

// The session reducer alone: no socket, no server, no timers. Each test feeds events and reads the state and
// the effects; createHeraldClient.test.ts runs the same logic against a real server.

const notification = (seq: number): Notification => ({
  id: String(100 + seq),
  seq,
  type: 'test',
  title: `#${seq}`,
  message: `notification ${seq}`,
  data: null,
  createdAt: '2025-01-01T00:00:00.000Z',
  read: false,
  seen: false,
  archived: false,
  critical: false,
})
const frame = (message: ServerMessage | BroadcastMessage): SessionEvent => ({ type: 'message', message })
const connectedFrame = frame({ type: 'connected', connectionId: 'c', timestamp: '2025-01-01T00:00:00.000Z' })
const authenticated = (userId = '1') =>
  frame({ type: 'authenticated', userId, address: '0xabc', expiresAt: '2025-01-01T01:00:00.000Z' })
const live = (seq: number) => frame({ type: 'notification', notification: notification(seq) })

/** Deep-freezes a state, so a reducer that mutated its input would throw. */
function frozen(state: SessionState): SessionState {
  Object.freeze(state.held)
  return Object.freeze(state)
}

/** Feeds `events` in order; returns the last state and every effect. */
function feed(state: SessionState, ...events: SessionEvent[]) {
  const effects: SessionEffect[] = []
  for (const event of events) {
    const step = sessionReducer(frozen(state), event)
    state = step.state
    effects.push(...step.effects)
  }
  return { state, effects }
}

/** The emitted events as [event, first argument], in order. */
const emitted = (effects: SessionEffect[]) =>
  effects.flatMap((e) => (e.type === 'emit' ? [[e.event, e.args[0]] as const] : []))
const sent = (effects: SessionEffect[]) => effects.flatMap((e) => (e.type === 'send' ? [e.message] : []))
const notified = (effects: SessionEffect[]) =>
  effects.flatMap((e) => (e.type === 'emit' && e.event === 'notification' ? [e.args[0].seq] : []))
const states = (effects: SessionEffect[]) =>
  effects.flatMap((e) => (e.type === 'emit' && e.event === 'state' ? [e.args[0]] : []))

/** Connected and waiting for the resume, as user 1, socket 1. */
function authenticating(since: number | null) {
  return feed(
    initialSession(since),
    { type: 'connect' },
    connectedFrame,
    { type: 'tokenFound', socketId: 1, token: 'jwt' },
    authenticated(),
  )
}

/** Connected, authenticated and caught up to `seq`. */
function caughtUp(seq: number) {
  return feed(authenticating(seq).state, frame({ type: 'resumed', since: seq, replayed: 0, seq })).state
}

describe('session reducer', () => {
  test('a first connection authenticates, starts from the latest seq and resumes from there', () => {
    const { state, effects } = feed(
      initialSession(null),
      { type: 'connect' },
      connectedFrame,
      { type: 'tokenFound', socketId: 1, token: 'jwt' },
      authenticated('7'),
      { type: 'startSeq', socketId: 1, seq: 5 },
      frame({ type: 'resumed', since: 5, replayed: 0, seq: 5 }),
    )
    expect(effects.map((e) => e.type)).toEqual([
      'emit', // state: connecting
      'openSocket',
      'findToken',
      'emit', // message: connected
      'emit', // state: authenticating
      'send', // auth
      'channelsReady', // channel subscribes may follow the auth
      'tokenAccepted',
      'scheduleRefresh',
      'emit', // authenticated
      'fetchStartSeq',
      'emit', // message: authenticated
      'send', // resume
      'emit', // state: connected
      'emit', // resumed
      'emit', // message: resumed
    ])
    expect(states(effects)).toEqual(['connecting', 'authenticating', 'connected'])
    expect(sent(effects)).toEqual([
      { type: 'auth', token: 'jwt' },
      { type: 'resume', since: 5 },
    ])
    expect(effects).toContainEqual({ type: 'scheduleRefresh', expiresAt: '2025-01-01T01:00:00.000Z' })
    expect(state).toMatchObject({ connection: 'connected', userId: '7', lastSeq: 5, socketId: 1 })
  })

  test('with a known seq it resumes from there at once', () => {
    const { effects } = authenticating(12)
    expect(effects.some((e) => e.type === 'fetchStartSeq')).toBe(false)
    expect(sent(effects).at(-1)).toEqual({ type: 'resume', since: 12 })
  })

  test('live notifications: delivered in order, a seq seen before is dropped without a trace', () => {
    const { state, effects } = feed(caughtUp(3), live(4), live(4), live(3), live(6))
    expect(notified(effects)).toEqual([4, 6])
    // The duplicates emit nothing at all, not even `message`.
    expect(emitted(effects).map(([event]) => event)).toEqual([
      'notification',
      'message',
      'notification',
      'message',
    ])
    expect(state.lastSeq).toBe(6)
  })

  test('notifications during the resume are held, then delivered once each, in seq order', () => {
    const { state, effects } = feed(
      authenticating(4).state,
      live(7),
      live(5),
      live(6),
      live(5),
      live(3), // at or below `since`: already seen before the reconnect
      frame({ type: 'resumed', since: 4, replayed: 2, seq: 7 }),
      live(7),
      live(8),
    )
    expect(notified(effects)).toEqual([5, 6, 7, 8])
    // Held ones still reach `message` as they arrive; `resumed` comes after the ones it covers.
    expect(emitted(effects).map(([event]) => event)).toEqual([
      'message',
      'message',
      'message',
      'message',
      'message',
      'notification',
      'notification',
      'notification',
      'state',
      'resumed',
      'message',
      'notification',
      'message',
    ])
    expect(state).toMatchObject({ connection: 'connected', lastSeq: 8, held: [] })
  })

  test('`resumed` moves lastSeq to the seq the replay reached, even past everything delivered', () => {
    const { state } = feed(authenticating(2).state, frame({ type: 'resumed', since: 2, replayed: 0, seq: 9 }))
    expect(state.lastSeq).toBe(9)
  })

  test('`reset` drops what was held and starts from its seq', () => {
    const { state, effects } = feed(
      authenticating(0).state,
      live(11),
      frame({ type: 'reset', seq: 12 }),
      live(12),
      live(13),
    )
    expect(notified(effects)).toEqual([13])
    expect(emitted(effects).filter(([event]) => event === 'reset')).toEqual([
      ['reset', { type: 'reset', seq: 12 }],
    ])
    expect(state).toMatchObject({ connection: 'connected', lastSeq: 13, held: [] })
  })

  test('UNAVAILABLE during the resume: retried with growing delays on the same socket until it succeeds', () => {
    const unavailable = frame({
      type: 'error',
      code: 'UNAVAILABLE',
      message: 'Resume is unavailable right now.',
    })
    let { state, effects } = feed(authenticating(3).state, unavailable)
    expect(effects).toContainEqual({ type: 'retryResumeLater', socketId: 1, delayMs: 1000 })
    expect(state.connection).toBe('authenticating')
    ;({ state, effects } = feed(state, { type: 'retryResume', socketId: 1 }))
    expect(sent(effects)).toEqual([{ type: 'resume', since: 3 }])
    ;({ state, effects } = feed(state, unavailable))
    expect(effects).toContainEqual({ type: 'retryResumeLater', socketId: 1, delayMs: 2000 })
    ;({ state, effects } = feed(state, { type: 'retryResume', socketId: 1 }, live(4)))
    expect(notified(effects)).toEqual([])
    ;({ state, effects } = feed(state, frame({ type: 'resumed', since: 3, replayed: 1, seq: 4 })))
    expect(notified(effects)).toEqual([4])
    expect(state).toMatchObject({ connection: 'connected', resumeAttempts: 0 })
  })

  test('only UNAVAILABLE is retried: INVALID_MESSAGE is the client’s own fault', () => {
    const { effects } = feed(
      authenticating(3).state,
      frame({ type: 'error', code: 'INVALID_MESSAGE', message: 'Unknown message type.' }),
    )
    expect(effects.some((e) => e.type === 'retryResumeLater')).toBe(false)
    expect(emitted(effects).map(([event]) => event)).toEqual(['error', 'message'])
  })

  test('the resume backoff doubles from 1 s and stays at 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(resumeRetryDelayMs)).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ])
  })

  test('answers meant for an earlier socket are dropped', () => {
    const first = authenticating(null).state
    const { state, effects } = feed(
      first,
      { type: 'closed', code: 1006 },
      connectedFrame, // socket 2
      { type: 'startSeq', socketId: 1, seq: 40 },
      { type: 'retryResume', socketId: 1 },
      { type: 'tokenFound', socketId: 1, token: 'old' },
    )
    expect(sent(effects)).toEqual([])
    expect(state).toMatchObject({ socketId: 2, lastSeq: null, connection: 'reconnecting' })
  })

  test('another user on the same client starts from "now" again; anonymous forgets the user', () => {
    let { state, effects } = feed(caughtUp(5), { type: 'closed', code: 1006 }, connectedFrame, {
      type: 'tokenFound',
      socketId: 2,
      token: 'other',
    })
    ;({ state, effects } = feed(state, authenticated('2')))
    expect(effects.some((e) => e.type === 'fetchStartSeq')).toBe(true)
    expect(state).toMatchObject({ userId: '2', lastSeq: null })

    ;({ state, effects } = feed(caughtUp(5), { type: 'closed', code: 1006 }, connectedFrame, {
      type: 'tokenFound',
      socketId: 2,
      token: null,
    }))
    expect(state).toMatchObject({ connection: 'connected', userId: null, lastSeq: null })
    expect(sent(effects)).toEqual([])
  })

  test('a token refreshed on the open socket resumes nothing', () => {
    const { state, effects } = feed(caughtUp(5), authenticated())
    expect(sent(effects)).toEqual([])
    expect(effects.some((e) => e.type === 'fetchStartSeq')).toBe(false)
    expect(effects).toContainEqual({ type: 'scheduleRefresh', expiresAt: '2025-01-01T01:00:00.000Z' })
    expect(state.connection).toBe('connected')
  })

  test('a broadcast is any other type: `broadcast`, then `message`', () => {
    const message = { type: 'maintenance', startsIn: 60 }
    const { state, effects } = feed(caughtUp(1), frame(message))
    expect(emitted(effects)).toEqual([
      ['broadcast', message],
      ['message', message],
    ])
    expect(state.lastSeq).toBe(1)
  })

  test('a connection limit stops for good, with the reason the server gave', () => {
    const limited = feed(
      authenticating(0).state,
      frame({ type: 'error', code: 'CONNECTION_LIMIT_PER_USER_EXCEEDED', message: 'Too many connections.' }),
      { type: 'closed', code: 4029 },
    )
    expect(limited.state).toMatchObject({
      connection: 'closed',
      closedReason: { code: 'CONNECTION_LIMIT_PER_USER_EXCEEDED', message: 'Too many connections.' },
    })
    expect(limited.effects).toContainEqual({ type: 'closeSocket' })
    // A 4029 without an error message first still stops; the error alone (another close code) does too.
    expect(feed(caughtUp(0), { type: 'closed', code: 4029 }).state.closedReason?.code).toBe(
      'CONNECTION_LIMIT',
    )
    const total = feed(
      caughtUp(0),
      frame({ type: 'error', code: 'CONNECTION_LIMIT_TOTAL_EXCEEDED', message: 'Full.' }),
      { type: 'closed', code: 1006 },
    )
    expect(total.state.closedReason).toEqual({ code: 'CONNECTION_LIMIT_TOTAL_EXCEEDED', message: 'Full.' })
  })

  test('a refused token is replaced once; a second refusal in a row is final', () => {
    const once = feed(caughtUp(0), { type: 'closed', code: 4001 })
    expect(once.state.connection).toBe('reconnecting')
    expect(once.effects).toContainEqual({ type: 'tokenRefused' })
    const twice = feed(
      once.state,
      connectedFrame,
      { type: 'tokenFound', socketId: 2, token: 'jwt' },
      frame({ type: 'error', code: 'UNAUTHORIZED', message: 'The session was revoked.' }),
      { type: 'closed', code: 4001 },
    )
    expect(states(twice.effects)).toEqual(['authenticating', 'closed'])
    expect(twice.state.closedReason).toEqual({ code: 'UNAUTHORIZED', message: 'The session was revoked.' })
    // Accepted in between: the count starts again.
    const recovered = feed(
      once.state,
      connectedFrame,
      { type: 'tokenFound', socketId: 2, token: 'jwt' },
      authenticated(),
      {
        type: 'closed',
        code: 4001,
      },
    )
    expect(recovered.state.connection).toBe('reconnecting')
  })

  test('other closes reconnect; closes after disconnect() are ignored', () => {
    expect(feed(caughtUp(0), { type: 'closed', code: 1001 }).state.connection).toBe('reconnecting')
    const { state, effects } = feed(caughtUp(0), { type: 'disconnect' }, { type: 'closed', code: 1000 })
    expect(state.connection).toBe('idle')
    expect(effects.filter((e) => e.type !== 'cancelRefresh')).toEqual([
      { type: 'closeSocket', code: 1000, reason: 'client disconnect' },
      { type: 'emit', event: 'state', args: ['idle'] },
    ])
  })

  test('a socket that cannot be opened is reconnecting', () => {
    const { state } = feed(initialSession(null), { type: 'connect' }, { type: 'socketError' })
    expect(state.connection).toBe('reconnecting')
  })

  test('a new token that needs a new connection reconnects; signing out forgets the user', () => {
    const switched = feed(caughtUp(4), { type: 'tokenChanged', signedOut: false })
    expect(switched.effects).toEqual([
      { type: 'emit', event: 'state', args: ['reconnecting'] },
      { type: 'reconnect' },
    ])
    expect(switched.state).toMatchObject({ userId: '1', lastSeq: 4 })
    const out = feed(caughtUp(4), { type: 'tokenChanged', signedOut: true })
    expect(out.state).toMatchObject({ userId: null, lastSeq: null, connection: 'reconnecting' })
    // Before connect(): nothing to reconnect.
    expect(feed(initialSession(null), { type: 'tokenChanged', signedOut: true }).effects).toEqual([])
  })
})

describe('refreshDelayMs', () => {
  const now = Date.parse('2025-01-01T00:00:00.000Z')
  const at = (ms: number) => new Date(now + ms).toISOString()

  test('a tenth of the lifetime ahead, between 5 s and 60 s', () => {
    expect(refreshDelayMs(at(3_600_000), now)).toBe(3_540_000)
    expect(refreshDelayMs(at(300_000), now)).toBe(270_000)
    expect(refreshDelayMs(at(20_000), now)).toBe(15_000)
  })

  test('never more than half of what is left, so a short token is not refreshed in a loop', () => {
    expect(refreshDelayMs(at(3_000), now)).toBe(1_500)
    expect(refreshDelayMs(at(3_000), now, 10_000)).toBe(1_500)
  })

  test('refreshBeforeMs sets the window; an expired token is refreshed at once', () => {
    expect(refreshDelayMs(at(60_000), now, 1_500)).toBe(58_500)
    expect(refreshDelayMs(at(-1_000), now)).toBe(0)
  })
})

describe('createEmitter', () => {
  interface Events {
    tick: (n: number) => void
    pair: (a: string, b: number) => void
  }

  test('typed events reach every handler; a throwing handler is reported and the others still run', () => {
    const emitter = createEmitter<Events>()
    const emit = emissions<Events>()
    const seen: unknown[] = []
    const errors: unknown[] = []
    const originalError = console.error
    console.error = (...args: unknown[]) => errors.push(args)
    try {
      emitter.on('tick', () => {
        throw new Error('listener bug')
      })
      const off = emitter.on('tick', (n) => seen.push(n))
      emitter.on('pair', (a, b) => seen.push(`${a}${b}`))
      emitter.emit(emit('tick', 1))
      emitter.emit(emit('pair', 'x', 2))
      off()
      emitter.emit(emit('tick', 3))
    } finally {
      console.error = originalError
    }
    expect(seen).toEqual([1, 'x2'])
    expect(errors).toHaveLength(2)
  })
})
