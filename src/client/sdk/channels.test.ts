import { describe, expect, test } from 'bun:test'
import type { Publication, ServerMessage } from '../../shared/protocol'
import {
  type ChannelsEffect,
  type ChannelsEvent,
  type ChannelsState,
  channelsReducer,
  initialChannels,
} from './channels'

// The channels reducer alone: no socket, no server, no timers. channelsClient.test.ts runs the same logic
// against a real server.

const ROOM = 'private:room'
const publication = (seq: number, channel = ROOM): Publication => ({
  channel,
  seq,
  data: { seq },
  publishedAt: '2025-01-01T00:00:00.000Z',
})
const message = (m: ServerMessage): ChannelsEvent => ({ type: 'message', message: m })
const live = (seq: number, channel = ROOM) => message({ type: 'publication', ...publication(seq, channel) })
const subscribed = (seq: number, replayed = 0, channel = ROOM) =>
  message({ type: 'subscribed', channel, seq, replayed })

function feed(state: ChannelsState, ...events: ChannelsEvent[]) {
  const effects: ChannelsEffect[] = []
  for (const event of events) {
    const step = channelsReducer(Object.freeze(state), event)
    state = step.state
    effects.push(...step.effects)
  }
  return { state, effects }
}
const delivered = (effects: ChannelsEffect[]) =>
  effects.flatMap((e) => (e.type === 'publication' ? [e.publication.seq] : []))
const subscribes = (effects: ChannelsEffect[]) =>
  effects.flatMap((e) => (e.type === 'sendSubscribe' ? [{ name: e.name, since: e.since }] : []))
const sent = (effects: ChannelsEffect[]) => effects.flatMap((e) => (e.type === 'send' ? [e.message] : []))

/** Subscribed to ROOM on socket 1, caught up to `seq`. */
function liveAt(seq: number) {
  return feed(
    initialChannels,
    { type: 'ready', socketId: 1 },
    { type: 'subscribe', name: ROOM },
    subscribed(seq),
  ).state
}

describe('channels reducer', () => {
  test('a subscription waits for a socket, then subscribes "from now"', () => {
    const waiting = feed(initialChannels, { type: 'subscribe', name: ROOM })
    expect(subscribes(waiting.effects)).toEqual([])
    expect(waiting.state.channels[ROOM]!.status).toBe('pending')
    const { state, effects } = feed(waiting.state, { type: 'ready', socketId: 1 }, subscribed(4))
    expect(subscribes(effects)).toEqual([{ name: ROOM, since: undefined }])
    expect(state.channels[ROOM]).toMatchObject({ status: 'live', lastSeq: 4 })
    expect(effects).toContainEqual({
      type: 'subscribed',
      key: ROOM,
      message: { type: 'subscribed', channel: ROOM, seq: 4, replayed: 0 },
    })
  })

  test('live publications: in order, once; a seq seen before is dropped', () => {
    const { effects } = feed(liveAt(4), live(5), live(5), live(4), live(6))
    expect(delivered(effects)).toEqual([5, 6])
  })

  test('after every new socket it subscribes again from its last seq; the replay is held until subscribed, then delivered once in order', () => {
    const { state, effects } = feed(
      liveAt(2),
      live(3),
      { type: 'closed' },
      { type: 'ready', socketId: 2 },
      // The replay (4, 5, 6), a live copy of 6 racing it, then subscribed.
      live(4),
      live(6),
      live(5),
      live(6),
      subscribed(6, 3),
      live(6),
      live(7),
    )
    expect(subscribes(effects)).toEqual([{ name: ROOM, since: 3 }])
    expect(delivered(effects)).toEqual([3, 4, 5, 6, 7])
    expect(state.channels[ROOM]!.lastSeq).toBe(7)
  })

  test('a hole in live seqs subscribes again from the last one, holding what came', () => {
    const { state, effects } = feed(liveAt(2), live(3), live(6), live(4), live(5), subscribed(6, 3))
    expect(subscribes(effects).at(-1)).toEqual({ name: ROOM, since: 3 })
    expect(delivered(effects)).toEqual([3, 4, 5, 6])
    expect(state.channels[ROOM]!.status).toBe('live')
  })

  test('channel_reset: live from its seq, the app told to read the history', () => {
    const { state, effects } = feed(
      liveAt(2),
      { type: 'closed' },
      { type: 'ready', socketId: 2 },
      message({ type: 'channel_reset', channel: ROOM, seq: 5000 }),
      live(5001),
    )
    expect(effects.some((e) => e.type === 'reset')).toBe(true)
    expect(delivered(effects)).toEqual([5001])
    expect(state.channels[ROOM]!.lastSeq).toBe(5001)
  })

  test('address channels are one channel in any case: the server’s checksummed name answers a lowercase subscribe', () => {
    const lower = 'token:0x5fbdb2315678afecb367f032d93f642f64180aa3'
    const checksummed = 'token:0x5FbDB2315678afecb367f032d93F642f64180aa3'
    const { effects } = feed(
      initialChannels,
      { type: 'ready', socketId: 1 },
      { type: 'subscribe', name: lower },
      subscribed(0, 0, checksummed),
      live(1, checksummed),
    )
    expect(subscribes(effects)).toEqual([{ name: lower, since: undefined }])
    expect(delivered(effects)).toEqual([1])
  })

  test('a refused subscribe ends it and it is not subscribed again; UNAVAILABLE is retried with backoff', () => {
    const refused = feed(
      initialChannels,
      { type: 'ready', socketId: 1 },
      { type: 'subscribe', name: ROOM },
      message({ type: 'error', code: 'FORBIDDEN', channel: ROOM, message: 'no' }),
      { type: 'closed' },
      { type: 'ready', socketId: 2 },
    )
    expect(refused.effects).toContainEqual({ type: 'ended', key: ROOM, reason: 'FORBIDDEN', message: 'no' })
    expect(subscribes(refused.effects)).toHaveLength(1)
    const unavailable = feed(
      initialChannels,
      { type: 'ready', socketId: 1 },
      { type: 'subscribe', name: ROOM },
      message({ type: 'error', code: 'UNAVAILABLE', channel: ROOM, message: 'later' }),
    )
    expect(unavailable.effects).toContainEqual({ type: 'retryLater', name: ROOM, socketId: 1, delayMs: 1000 })
    const retried = feed(unavailable.state, { type: 'retry', name: ROOM, socketId: 1 }, subscribed(0))
    expect(subscribes(retried.effects)).toEqual([{ name: ROOM, since: undefined }])
    expect(retried.state.channels[ROOM]!.status).toBe('live')
  })

  test('unsubscribed by the server (TOKEN_EXPIRED, FORBIDDEN): ended, and not subscribed again', () => {
    const { state, effects } = feed(
      liveAt(1),
      message({ type: 'unsubscribed', channel: ROOM, reason: 'TOKEN_EXPIRED' }),
      { type: 'closed' },
      { type: 'ready', socketId: 2 },
      live(2),
    )
    expect(effects.filter((e) => e.type === 'ended')).toHaveLength(1)
    expect(subscribes(effects)).toEqual([])
    expect(delivered(effects)).toEqual([])
    expect(state.channels[ROOM]!.ended).toMatchObject({ reason: 'TOKEN_EXPIRED' })
  })

  test('publish: only while live; answered by its ref, refused by its ref; failed when the socket closes', () => {
    const early = feed(
      initialChannels,
      { type: 'subscribe', name: ROOM },
      { type: 'publish', name: ROOM, ref: 'a', data: 1 },
    )
    expect(early.effects).toContainEqual(expect.objectContaining({ type: 'failed', code: 'NOT_SUBSCRIBED' }))
    const { effects } = feed(
      liveAt(0),
      { type: 'publish', name: ROOM, ref: 'b', data: { x: 1 } },
      { type: 'publish', name: ROOM, ref: 'c', data: { x: 2 } },
      { type: 'publish', name: ROOM, ref: 'd', data: { x: 3 } },
      message({ type: 'error', code: 'RATE_LIMITED', channel: ROOM, ref: 'c', message: 'slow' }),
      message({ type: 'published', channel: ROOM, seq: 1, ref: 'b' }),
      { type: 'closed' },
    )
    expect(sent(effects)).toEqual([
      { type: 'publish', channel: ROOM, data: { x: 1 }, ref: 'b' },
      { type: 'publish', channel: ROOM, data: { x: 2 }, ref: 'c' },
      { type: 'publish', channel: ROOM, data: { x: 3 }, ref: 'd' },
    ])
    expect(effects.filter((e) => e.type === 'published' || e.type === 'failed')).toEqual([
      { type: 'failed', request: { ref: 'c' }, code: 'RATE_LIMITED', message: 'slow' },
      { type: 'published', ref: 'b', seq: 1 },
      expect.objectContaining({ type: 'failed', request: { ref: 'd' }, code: 'DISCONNECTED' }),
    ])
  })

  test('presence is answered in order; an error without a ref answers the oldest request that is not a publish', () => {
    const members = { type: 'presence' as const, channel: ROOM, members: [] }
    const { effects } = feed(
      liveAt(0),
      { type: 'presence', name: ROOM, id: 1 },
      { type: 'publish', name: ROOM, ref: 'p', data: 1 },
      { type: 'presence', name: ROOM, id: 2 },
      message(members),
      message({ type: 'error', code: 'FORBIDDEN', channel: ROOM, message: 'gone' }),
    )
    expect(effects.filter((e) => e.type === 'presenceAnswer' || e.type === 'failed')).toEqual([
      { type: 'presenceAnswer', id: 1, message: members },
      { type: 'failed', request: { id: 2 }, code: 'FORBIDDEN', message: 'gone' },
    ])
  })

  test('unsubscribing sends unsubscribe once subscribed, nothing while pending; messages after it are ignored', () => {
    const pending = feed(
      initialChannels,
      { type: 'subscribe', name: ROOM },
      { type: 'unsubscribe', name: ROOM },
    )
    expect(sent(pending.effects)).toEqual([])
    const { state, effects } = feed(liveAt(1), { type: 'unsubscribe', name: ROOM }, live(2))
    expect(sent(effects)).toEqual([{ type: 'unsubscribe', channel: ROOM }])
    expect(delivered(effects)).toEqual([])
    expect(state.channels[ROOM]).toBeUndefined()
  })

  test('join and leave reach the app while subscribed', () => {
    const member = { userId: '1', address: '0xabc' }
    const { effects } = feed(
      liveAt(0),
      message({ type: 'join', channel: ROOM, member }),
      message({ type: 'leave', channel: ROOM, member }),
    )
    expect(effects.filter((e) => e.type === 'presenceChange')).toEqual([
      { type: 'presenceChange', key: ROOM, kind: 'join', member },
      { type: 'presenceChange', key: ROOM, kind: 'leave', member },
    ])
  })

  test('`since` given by the app resumes from there on the first subscribe', () => {
    const { effects } = feed(
      initialChannels,
      { type: 'ready', socketId: 1 },
      { type: 'subscribe', name: ROOM, since: 41 },
    )
    expect(subscribes(effects)).toEqual([{ name: ROOM, since: 41 }])
  })
})
