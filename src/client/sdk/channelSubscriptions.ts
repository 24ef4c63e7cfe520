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
import {
  type ChannelStatus,
  type ChannelsEffect,
  type ChannelsEvent,
  channelsReducer,
  initialChannels,
} from './channels'

type WithoutType<T> = T extends unknown ? Omit<T, 'type'> : never
/** Who is on a channel: members for `private:`/`holders:`, counts for the others (docs/protocol.md §4). */
export type ChannelPresence = WithoutType<PresenceMessage>

/** A channel request the server refused, or one that could not be answered (`DISCONNECTED`, `NOT_SUBSCRIBED`). */
export class HeraldChannelError extends Error {
  readonly code: string
  readonly channel: string
  constructor(channel: string, code: string, message: string) {
    super(message)
    this.name = 'HeraldChannelError'
    this.code = code
    this.channel = channel
  }
}

export interface ChannelListener {
  /** Every publication once, in seq order, across reconnects. */
  onPublication?(publication: Publication): void
  /** A user's first connection on the channel (members channels only), this client's own included. */
  onJoin?(member: ChannelMember): void
  /** A user's last connection gone. */
  onLeave?(member: ChannelMember): void
  /** Subscribed (again, after a reconnect): `replayed` publications came first. */
  onSubscribed?(message: SubscribedMessage): void
  /** More was missed than the server replays: read the history over HTTP; live ones follow. */
  onReset?(message: ChannelResetMessage): void
  /**
   * The server ended the subscription, or refused it: `FORBIDDEN`, `TOKEN_EXPIRED`, `INVALID_CHANNEL`,
   * `SUBSCRIPTION_LIMIT`… It is not subscribed again; subscribe anew (with a fresh token) to retry.
   */
  onEnded?(reason: UnsubscribeReason | ErrorMessage['code'], message: string): void
}

export interface ChannelSubscribeOptions extends ChannelListener {
  /** The subscription token of a `private:` channel, or a function asked for one at every (re)subscribe. */
  token?: string | (() => string | null | undefined | Promise<string | null | undefined>)
  /** Resume from this seq (one kept from an earlier session); by default the subscription starts now. */
  since?: number
}

export interface ChannelSubscription {
  /** The channel's name as given. */
  readonly channel: string
  readonly state: ChannelStatus | 'closed'
  /** The last publication's seq delivered (0 before any). */
  readonly lastSeq: number
  /** Stops this subscription's callbacks; the last one on a channel unsubscribes from it. */
  unsubscribe(): void
  /** Who is on the channel, over every server instance. */
  presence(): Promise<ChannelPresence>
  /** Publishes on the channel (`private:` and `holders:` only); resolves with its seq once stored. */
  publish(data: unknown): Promise<{ seq: number }>
}

type Token = ChannelSubscribeOptions['token']

/**
 * The I/O around the channels reducer (channels.ts): the app's listeners per channel (several subscriptions
 * to one channel share one server subscription), tokens, the promises of publish and presence, and retry
 * timers. The client feeds it the socket's life (`ready`, `closed`) and every channel message.
 */
export function createChannelSubscriptions(deps: {
  send(message: { type: string; [key: string]: unknown }): void
  onError?(error: unknown): void
}) {
  let state = initialChannels
  const listeners = new Map<string, Set<ChannelListener>>()
  const tokens = new Map<string, Token>()
  const publishes = new Map<
    string,
    { resolve(value: { seq: number }): void; reject(error: Error): void; channel: string }
  >()
  const presences = new Map<
    number,
    { resolve(value: ChannelPresence): void; reject(error: Error): void; channel: string }
  >()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let nextId = 0

  const keyOf = (name: string) => channelKey(name) ?? name
  const each = (key: string, call: (listener: ChannelListener) => void) => {
    for (const listener of [...(listeners.get(key) ?? [])]) {
      try {
        call(listener)
      } catch (error) {
        // One listener's bug must not break delivery to the others.
        ;(deps.onError ?? ((e) => console.error('herald: channel listener failed', e)))(error)
      }
    }
  }

  const sendSubscribe = (name: string, since: number | undefined) => {
    const key = keyOf(name)
    const source = tokens.get(key)
    const send = (token: string | null | undefined) =>
      deps.send({ type: 'subscribe', channel: name, since, token: token ?? undefined })
    // At once when there is no function to ask, so the subscribe keeps its place among the messages sent.
    if (typeof source !== 'function') return send(source)
    const socketId = state.socketId
    Promise.resolve()
      .then(source)
      .catch((error: unknown) => {
        deps.onError?.(error)
        return undefined
      })
      .then((token) => {
        // Unsubscribed, or on another socket (which subscribes by itself), while the token was looked up.
        if (state.socketId === socketId && state.channels[key]?.status === 'subscribing') send(token)
      })
  }

  const run = (effect: ChannelsEffect) => {
    switch (effect.type) {
      case 'sendSubscribe':
        sendSubscribe(effect.name, effect.since)
        break
      case 'send':
        deps.send(effect.message)
        break
      case 'publication':
        each(effect.key, (l) => l.onPublication?.(effect.publication))
        break
      case 'subscribed':
        each(effect.key, (l) => l.onSubscribed?.(effect.message))
        break
      case 'reset':
        each(effect.key, (l) => l.onReset?.(effect.message))
        break
      case 'presenceChange':
        each(effect.key, (l) =>
          effect.kind === 'join' ? l.onJoin?.(effect.member) : l.onLeave?.(effect.member),
        )
        break
      case 'ended':
        each(effect.key, (l) => l.onEnded?.(effect.reason, effect.message))
        break
      case 'published': {
        const pending = publishes.get(effect.ref)
        publishes.delete(effect.ref)
        pending?.resolve({ seq: effect.seq })
        break
      }
      case 'presenceAnswer': {
        const pending = presences.get(effect.id)
        presences.delete(effect.id)
        const { type: _, ...presence } = effect.message
        pending?.resolve(presence as ChannelPresence)
        break
      }
      case 'failed': {
        const pending =
          'ref' in effect.request ? publishes.get(effect.request.ref) : presences.get(effect.request.id)
        if ('ref' in effect.request) publishes.delete(effect.request.ref)
        else presences.delete(effect.request.id)
        pending?.reject(new HeraldChannelError(pending.channel, effect.code, effect.message))
        break
      }
      case 'retryLater': {
        const timer = setTimeout(
          () => {
            timers.delete(timer)
            dispatch({ type: 'retry', name: effect.name, socketId: effect.socketId })
          },
          effect.delayMs * (1 + Math.random()),
        )
        timers.add(timer)
        break
      }
    }
  }

  const dispatch = (event: ChannelsEvent) => {
    const step = channelsReducer(state, event)
    state = step.state
    for (const effect of step.effects) run(effect)
  }

  return {
    subscribe(channel: string, options: ChannelSubscribeOptions = {}): ChannelSubscription {
      const key = keyOf(channel)
      const { token, since, ...listener } = options
      if (token !== undefined) tokens.set(key, token)
      let set = listeners.get(key)
      if (!set) {
        set = new Set()
        listeners.set(key, set)
      }
      set.add(listener)
      dispatch({ type: 'subscribe', name: channel, since })
      let closed = false
      return {
        channel,
        get state() {
          return closed ? 'closed' : (state.channels[key]?.status ?? 'closed')
        },
        get lastSeq() {
          return state.channels[key]?.lastSeq ?? 0
        },
        unsubscribe() {
          if (closed) return
          closed = true
          set.delete(listener)
          if (set.size > 0) return
          listeners.delete(key)
          tokens.delete(key)
          dispatch({ type: 'unsubscribe', name: channel })
        },
        presence() {
          const id = ++nextId
          return new Promise<ChannelPresence>((resolve, reject) => {
            presences.set(id, { resolve, reject, channel })
            dispatch({ type: 'presence', name: channel, id })
          })
        },
        publish(data) {
          const ref = `p${++nextId}`
          return new Promise<{ seq: number }>((resolve, reject) => {
            publishes.set(ref, { resolve, reject, channel })
            dispatch({ type: 'publish', name: channel, ref, data })
          })
        },
      }
    },
    ready: (socketId: number) => dispatch({ type: 'ready', socketId }),
    closed: () => dispatch({ type: 'closed' }),
    message: (message: ServerMessage) => dispatch({ type: 'message', message }),
    stop() {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      dispatch({ type: 'closed' })
    },
  }
}

export type ChannelSubscriptions = ReturnType<typeof createChannelSubscriptions>
