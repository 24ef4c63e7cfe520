import type {
  ChannelMember,
  ChannelResetMessage,
  ErrorMessage,
  PresenceMessage,
  Publication,
  ServerMessage,
  SubscribedMessage,
  UnsubscribeReason,
} from '../../shared/protocol'
import { channelKey } from '../../shared/protocol/channels'
import { resumeRetryDelayMs } from './retryDelay'

// What the client's channel subscriptions mean, as a pure function like the session reducer (session.ts):
// state + event → new state + effects. It decides what every channel message means: publications once each and
// in seq order (held during a replay, deduped by seq, a gap mended by subscribing again with `since`), which
// request an answer or an error belongs to, re-subscribing each channel with `since` on every new socket, and
// retrying a subscribe the server could not serve. createHeraldClient and channelSubscriptions.ts do the I/O.

export type ChannelStatus =
  /** Waiting for a socket that can take it. */
  | 'pending'
  /** `subscribe` sent, its answer not back: publications are held. */
  | 'subscribing'
  /** Subscribed: publications are delivered as they come. */
  | 'live'
  /** Refused or unsubscribed by the server: not subscribed again (see `ended`). */
  | 'ended'

/** A request on a channel waiting for its answer; the server answers one connection's messages in order. */
export type ChannelRequest =
  | { kind: 'subscribe' }
  | { kind: 'unsubscribe' }
  | { kind: 'publish'; ref: string }
  | { kind: 'presence'; id: number }

export interface ChannelState {
  /** The name as the app gave it (sent in every request). */
  readonly name: string
  readonly status: ChannelStatus
  /** The last seq delivered; null: none yet (a first subscribe starts "now"). */
  readonly lastSeq: number | null
  /** Publications that came while a subscribe was being answered (its replay), delivered when it is. */
  readonly held: readonly Publication[]
  readonly requests: readonly ChannelRequest[]
  /** Subscribes refused with UNAVAILABLE in a row, for the backoff. */
  readonly attempts: number
  /** Why the server ended it. */
  readonly ended: { reason: UnsubscribeReason | ErrorMessage['code']; message: string } | null
}

export interface ChannelsState {
  /** By channelKey: an address channel is one channel in any case. */
  readonly channels: Readonly<Record<string, ChannelState>>
  /** The socket subscriptions go on; null while none can take them. */
  readonly socketId: number | null
}

export type ChannelsEvent =
  /** The app subscribed (its first listener on the channel); `since` resumes from a seq it kept. */
  | { type: 'subscribe'; name: string; since?: number }
  /** The app's last listener on the channel left. */
  | { type: 'unsubscribe'; name: string }
  /** A socket can take subscriptions (authenticated, or anonymous and connected). */
  | { type: 'ready'; socketId: number }
  /** The socket closed: nothing is subscribed any more (the contract), everything waits for the next. */
  | { type: 'closed' }
  | { type: 'message'; message: ServerMessage }
  /** The wait after an UNAVAILABLE subscribe is over. */
  | { type: 'retry'; name: string; socketId: number }
  | { type: 'publish'; name: string; ref: string; data: unknown }
  | { type: 'presence'; name: string; id: number }

export type ChannelsEffect =
  /** Send `subscribe` (the client adds the subscription's token). */
  | { type: 'sendSubscribe'; name: string; since?: number }
  | { type: 'send'; message: { type: string; [key: string]: unknown } }
  | { type: 'publication'; key: string; publication: Publication }
  | { type: 'subscribed'; key: string; message: SubscribedMessage }
  /** More was missed than the server replays: the app reads the history over HTTP. */
  | { type: 'reset'; key: string; message: ChannelResetMessage }
  | { type: 'presenceChange'; key: string; kind: 'join' | 'leave'; member: ChannelMember }
  | { type: 'ended'; key: string; reason: UnsubscribeReason | ErrorMessage['code']; message: string }
  | { type: 'published'; ref: string; seq: number }
  | { type: 'presenceAnswer'; id: number; message: PresenceMessage }
  /** A publish or presence request failed: reject its promise. */
  | { type: 'failed'; request: { ref: string } | { id: number }; code: string; message: string }
  | { type: 'retryLater'; name: string; socketId: number; delayMs: number }

export interface ChannelsStep {
  state: ChannelsState
  effects: ChannelsEffect[]
}

export const initialChannels: ChannelsState = { channels: {}, socketId: null }

const fresh = (name: string, since: number | undefined): ChannelState => ({
  name,
  status: 'pending',
  lastSeq: since ?? null,
  held: [],
  requests: [],
  attempts: 0,
  ended: null,
})

const keyOf = (name: string) => channelKey(name) ?? name

class Step {
  readonly effects: ChannelsEffect[] = []
  constructor(public state: ChannelsState) {}
  do(...effects: ChannelsEffect[]) {
    this.effects.push(...effects)
  }
  get(key: string): ChannelState | undefined {
    return this.state.channels[key]
  }
  set(key: string, channel: ChannelState | null) {
    const channels = { ...this.state.channels }
    if (channel) channels[key] = channel
    else delete channels[key]
    this.state = { ...this.state, channels }
  }
  patch(key: string, patch: Partial<ChannelState>) {
    const channel = this.get(key)
    if (channel) this.set(key, { ...channel, ...patch })
  }
  /** Sends `subscribe` for the channel on the current socket, from its last seq. */
  subscribe(key: string) {
    const channel = this.get(key)
    if (!channel || this.state.socketId === null || channel.status === 'ended') return
    this.patch(key, {
      status: 'subscribing',
      held: [],
      requests: [...channel.requests, { kind: 'subscribe' }],
    })
    this.do({ type: 'sendSubscribe', name: channel.name, since: channel.lastSeq ?? undefined })
  }
  /** Takes the oldest request of `kind` (any of them when absent) off the channel's queue. */
  take(key: string, match: (request: ChannelRequest) => boolean): ChannelRequest | undefined {
    const channel = this.get(key)
    if (!channel) return undefined
    const at = channel.requests.findIndex(match)
    if (at < 0) return undefined
    this.patch(key, { requests: channel.requests.filter((_, i) => i !== at) })
    return channel.requests[at]
  }
  /** Delivers publications in seq order, once each, after the last seq; answers the new last seq. */
  deliver(key: string, publications: readonly Publication[]) {
    let lastSeq = this.get(key)!.lastSeq
    for (const publication of [...publications].sort((a, b) => a.seq - b.seq)) {
      if (lastSeq !== null && publication.seq <= lastSeq) continue
      lastSeq = publication.seq
      this.do({ type: 'publication', key, publication })
    }
    this.patch(key, { lastSeq })
  }
  /** Sends a publish or presence request on a live subscription; fails it at once on any other. */
  request(
    name: string,
    request: ChannelRequest & { kind: 'publish' | 'presence' },
    message: { type: string; channel: string; [key: string]: unknown },
  ) {
    const key = keyOf(name)
    const channel = this.get(key)
    if (channel?.status !== 'live' || this.state.socketId === null) {
      this.do({
        type: 'failed',
        request: request.kind === 'publish' ? { ref: request.ref } : { id: request.id },
        code: 'NOT_SUBSCRIBED',
        message: `Not subscribed to ${name} right now; ask again once the subscription is live.`,
      })
      return
    }
    this.patch(key, { requests: [...channel.requests, request] })
    this.do({ type: 'send', message: { ...message, channel: channel.name } })
  }
  /** Fails every publish and presence request of the channel (its socket closed, or it ended). */
  failRequests(key: string, code: string, message: string) {
    const channel = this.get(key)
    if (!channel) return
    for (const request of channel.requests) {
      if (request.kind === 'publish')
        this.do({ type: 'failed', request: { ref: request.ref }, code, message })
      if (request.kind === 'presence') this.do({ type: 'failed', request: { id: request.id }, code, message })
    }
    this.patch(key, { requests: [] })
  }
}

/** Applies one event: returns the next state and what to do, in order. Never mutates `state`. */
export function channelsReducer(state: ChannelsState, event: ChannelsEvent): ChannelsStep {
  const step = new Step(state)
  switch (event.type) {
    case 'subscribe': {
      const key = keyOf(event.name)
      const existing = step.get(key)
      if (existing && existing.status !== 'ended') break
      step.set(key, fresh(event.name, event.since))
      step.subscribe(key)
      break
    }
    case 'unsubscribe': {
      const key = keyOf(event.name)
      const channel = step.get(key)
      if (!channel) break
      step.failRequests(key, 'UNSUBSCRIBED', 'The subscription was closed.')
      if (step.state.socketId !== null && channel.status !== 'pending' && channel.status !== 'ended')
        step.do({ type: 'send', message: { type: 'unsubscribe', channel: channel.name } })
      step.set(key, null)
      break
    }
    case 'ready':
      step.state = { ...step.state, socketId: event.socketId }
      for (const key of Object.keys(step.state.channels)) step.subscribe(key)
      break
    case 'closed':
      for (const [key, channel] of Object.entries(step.state.channels)) {
        step.failRequests(
          key,
          'DISCONNECTED',
          'The connection closed before the answer; it may or may not have been stored.',
        )
        if (channel.status !== 'ended') step.patch(key, { status: 'pending', held: [], attempts: 0 })
      }
      step.state = { ...step.state, socketId: null }
      break
    case 'retry': {
      const key = keyOf(event.name)
      const channel = step.get(key)
      if (channel?.status === 'pending' && event.socketId === step.state.socketId) step.subscribe(key)
      break
    }
    case 'publish':
      step.request(
        event.name,
        { kind: 'publish', ref: event.ref },
        { type: 'publish', channel: event.name, data: event.data, ref: event.ref },
      )
      break
    case 'presence':
      step.request(event.name, { kind: 'presence', id: event.id }, { type: 'presence', channel: event.name })
      break
    case 'message':
      onMessage(step, event.message)
      break
  }
  return { state: step.state, effects: step.effects }
}

function onMessage(step: Step, message: ServerMessage) {
  if (!('channel' in message) || typeof message.channel !== 'string') return
  const key = keyOf(message.channel)
  const channel = step.get(key)
  if (!channel) return
  switch (message.type) {
    case 'subscribed': {
      step.take(key, (r) => r.kind === 'subscribe')
      if (channel.status !== 'subscribing') break
      // Everything held is in lastSeq+1..seq (the replay, and any live copy of part of it): in order, once each.
      step.deliver(key, channel.held)
      const lastSeq = step.get(key)!.lastSeq
      step.patch(key, {
        status: 'live',
        held: [],
        attempts: 0,
        lastSeq: lastSeq === null ? message.seq : Math.max(lastSeq, message.seq),
      })
      step.do({ type: 'subscribed', key, message })
      break
    }
    case 'channel_reset':
      step.take(key, (r) => r.kind === 'subscribe')
      if (channel.status !== 'subscribing') break
      // What was held is at or below the reset's seq: the app reads it over HTTP.
      step.patch(key, { status: 'live', held: [], attempts: 0, lastSeq: message.seq })
      step.do({ type: 'reset', key, message })
      break
    case 'publication': {
      if (channel.status === 'subscribing') {
        step.patch(key, { held: [...channel.held, message] })
        break
      }
      if (channel.status !== 'live') break
      const { lastSeq } = channel
      if (lastSeq !== null && message.seq > lastSeq + 1) {
        // A hole (none should come): ask again from the last seq, holding this one for the answer.
        step.subscribe(key)
        step.patch(key, { held: [message] })
        break
      }
      step.deliver(key, [message])
      break
    }
    case 'join':
    case 'leave':
      if (channel.status === 'live' || channel.status === 'subscribing')
        step.do({ type: 'presenceChange', key, kind: message.type, member: message.member })
      break
    case 'published': {
      if (message.ref === undefined) break
      const ref = message.ref
      if (step.take(key, (r) => r.kind === 'publish' && r.ref === ref))
        step.do({ type: 'published', ref, seq: message.seq })
      break
    }
    case 'presence': {
      const request = step.take(key, (r) => r.kind === 'presence')
      if (request?.kind === 'presence') step.do({ type: 'presenceAnswer', id: request.id, message })
      break
    }
    case 'unsubscribed':
      if (message.reason === 'client') {
        step.take(key, (r) => r.kind === 'unsubscribe')
        break
      }
      end(
        step,
        key,
        message.reason,
        message.reason === 'TOKEN_EXPIRED'
          ? 'The subscription token expired.'
          : 'The right to this channel ended.',
      )
      break
    case 'error':
      onError(step, key, channel, message)
      break
  }
}

/** An error about a channel answers the oldest request it can: a publish by its ref, otherwise in order. */
function onError(step: Step, key: string, channel: ChannelState, error: ErrorMessage) {
  if (error.ref !== undefined) {
    const ref = error.ref
    if (step.take(key, (r) => r.kind === 'publish' && r.ref === ref))
      step.do({ type: 'failed', request: { ref }, code: error.code, message: error.message })
    return
  }
  const request = step.take(key, (r) => r.kind !== 'publish')
  if (request?.kind === 'presence') {
    step.do({ type: 'failed', request: { id: request.id }, code: error.code, message: error.message })
    return
  }
  if (request?.kind !== 'subscribe' || channel.status !== 'subscribing') return
  if (error.code === 'UNAVAILABLE') {
    // The server could not serve it (its database, or the chain, is down) and the socket is open: ask again.
    const attempts = channel.attempts + 1
    step.patch(key, { status: 'pending', held: [], attempts })
    if (step.state.socketId !== null)
      step.do({
        type: 'retryLater',
        name: channel.name,
        socketId: step.state.socketId,
        delayMs: resumeRetryDelayMs(attempts),
      })
    return
  }
  end(step, key, error.code, error.message)
}

function end(step: Step, key: string, reason: UnsubscribeReason | ErrorMessage['code'], message: string) {
  step.failRequests(key, reason, message)
  step.patch(key, { status: 'ended', held: [], ended: { reason, message } })
  step.do({ type: 'ended', key, reason, message })
}
