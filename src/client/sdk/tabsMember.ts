import type { ChannelMember, ChannelResetMessage, Notification } from '../../shared/protocol'
import { channelKey } from '../../shared/protocol/channels'
import {
  type ChannelListener,
  type ChannelPresence,
  type ChannelSubscribeOptions,
  type ChannelSubscription,
  HeraldChannelError,
} from './channelSubscriptions'
import { createHttpApi } from './createHttpApi'
import { createEmitter } from './emitter'
import type { ChannelEvent, FromHub, ToHub } from './tabsProtocol'
import { createTokenStore } from './tokens'
import type { ConnectionState, HeraldClient, HeraldClientEvents, HeraldClientOptions } from './types'

// A tab's HeraldClient when the socket is shared (shareAcrossTabs): the same API and events as the direct client,
// as a proxy of the connection owner (tabsHub.ts) behind a link (tabsTransport.ts). It keeps its own last seq,
// for notifications and for each channel, so that after a handover to a new owner (which resumes from that seq)
// it delivers each one once and in order.

/** The way to the owner: a SharedWorker's port, or a BroadcastChannel to the leader tab. */
export interface HubLink {
  /** Starts; `ready` is called each time an owner can take a join: at once, and after every handover. */
  open(handlers: { message(message: FromHub): void; ready(): void }): void
  send(message: ToHub): void
  /** Leaves for good (the owner sees the member gone). */
  close(): void
}

interface Channel {
  name: string
  listeners: Set<ChannelListener>
  token: ChannelSubscribeOptions['token']
  lastSeq: number | null
  status: ChannelSubscription['state']
}

export function createTabsMember(options: HeraldClientOptions, link: () => HubLink): HeraldClient {
  const base = options.url.replace(/\/+$/, '')
  const events = createEmitter<HeraldClientEvents>()
  const tokens = createTokenStore(options.getToken)
  const api = createHttpApi({ url: base, token: () => tokens.current(), fetch: options.fetch })
  const channels = new Map<string, Channel>()
  const requests = new Map<
    number,
    { resolve(value: never): void; reject(error: Error): void; channel: string }
  >()
  let current: HubLink | null = null
  let connection: ConnectionState = 'idle'
  let closedReason: HeraldClient['closedReason'] = null
  let userId: string | null = null
  let lastSeq: number | null = options.since ?? null
  /**
   * The last notification frame handed to `message` listeners: a new owner's replay repeats frames this tab has
   * seen (the `notification` event is deduped by lastSeq; the raw frames come earlier, during the replay).
   */
  let messageSeq: number | null = lastSeq
  let nextId = 0

  const emit = <K extends keyof HeraldClientEvents>(event: K, ...args: Parameters<HeraldClientEvents[K]>) =>
    events.emit({ type: 'emit', event, args } as never)
  const setConnection = (next: ConnectionState) => {
    if (next === connection) return
    connection = next
    emit('state', next)
  }
  const keyOf = (name: string) => channelKey(name) ?? name
  const send = (message: ToHub) => current?.send(message)

  const failRequests = (code: string, message: string) => {
    for (const [id, pending] of requests) {
      requests.delete(id)
      pending.reject(new HeraldChannelError(pending.channel, code, message))
    }
  }

  const join = async () => {
    const token = await tokens.current()
    if (!current) return
    for (const channel of channels.values()) if (channel.status !== 'ended') channel.status = 'subscribing'
    send({
      type: 'join',
      token,
      lastSeq,
      channels: [...channels.values()]
        .filter((c) => c.status !== 'ended')
        .map((c) => ({ name: c.name, since: c.lastSeq, hasToken: c.token !== undefined })),
      options: {
        minReconnectDelayMs: options.minReconnectDelayMs,
        maxReconnectDelayMs: options.maxReconnectDelayMs,
        refreshBeforeMs: options.refreshBeforeMs,
      },
    })
  }

  const onEvent = (event: keyof HeraldClientEvents, args: unknown[]) => {
    switch (event) {
      case 'notification': {
        // Once each, in order, across owners: a new owner resumes from the lowest seq its members report.
        const { seq } = args[0] as Notification
        if (lastSeq !== null && seq <= lastSeq) return
        lastSeq = seq
        break
      }
      case 'reset':
        lastSeq = (args[0] as { seq: number }).seq
        break
      case 'resumed':
        lastSeq = Math.max(lastSeq ?? 0, (args[0] as { seq: number }).seq)
        break
      case 'token':
        tokens.refreshed((args[0] as { token: string }).token)
        break
      case 'message': {
        const frame = args[0] as { type: string; notification?: Notification }
        if (frame.type !== 'notification' || !frame.notification) break
        if (messageSeq !== null && frame.notification.seq <= messageSeq) return
        messageSeq = frame.notification.seq
        break
      }
    }
    events.emit({ type: 'emit', event, args } as never)
  }

  const each = (channel: Channel, call: (listener: ChannelListener) => void) => {
    for (const listener of [...channel.listeners]) {
      try {
        call(listener)
      } catch (error) {
        console.error('herald: channel listener failed', error)
      }
    }
  }

  const onChannel = (name: string, event: ChannelEvent) => {
    const channel = channels.get(keyOf(name))
    if (!channel) return
    switch (event.kind) {
      case 'publication': {
        const { seq } = event.publication
        if (channel.lastSeq !== null && seq <= channel.lastSeq) return
        channel.lastSeq = seq
        each(channel, (l) => l.onPublication?.(event.publication))
        break
      }
      case 'subscribed':
        channel.status = 'live'
        channel.lastSeq = Math.max(channel.lastSeq ?? 0, event.message.seq)
        each(channel, (l) => l.onSubscribed?.(event.message))
        break
      case 'reset':
        channel.status = 'live'
        channel.lastSeq = event.seq
        each(channel, (l) => l.onReset?.(event.message as ChannelResetMessage))
        break
      case 'join':
        each(channel, (l) => l.onJoin?.(event.member as ChannelMember))
        break
      case 'leave':
        each(channel, (l) => l.onLeave?.(event.member as ChannelMember))
        break
      case 'ended':
        channel.status = 'ended'
        each(channel, (l) => l.onEnded?.(event.reason as never, event.message))
        break
    }
  }

  const answer = async (id: number, channel: string | undefined, fresh: boolean | undefined) => {
    let token: string | null = null
    try {
      if (channel !== undefined) {
        const source = channels.get(keyOf(channel))?.token
        token = (typeof source === 'function' ? await source() : source) ?? null
      } else {
        if (fresh) tokens.forget()
        token = await tokens.current()
      }
    } catch {
      token = null
    }
    send({ type: 'answer', id, token })
  }

  const onMessage = (message: FromHub) => {
    switch (message.type) {
      case 'state':
        closedReason = message.closedReason
        userId = message.userId
        if (lastSeq === null && message.lastSeq !== null) lastSeq = message.lastSeq
        if (messageSeq === null) messageSeq = lastSeq
        setConnection(message.connection === 'idle' ? 'connecting' : message.connection)
        break
      case 'event':
        onEvent(message.event, message.args)
        break
      case 'channel':
        onChannel(message.name, message.event)
        break
      case 'result': {
        const pending = requests.get(message.id)
        requests.delete(message.id)
        if (!pending) break
        if (message.ok) pending.resolve(message.value as never)
        else
          pending.reject(
            new HeraldChannelError(pending.channel, message.code ?? 'ERROR', message.message ?? 'Refused.'),
          )
        break
      }
      case 'signedOut':
        tokens.set(null)
        userId = null
        lastSeq = null
        messageSeq = null
        emit('signedOut')
        break
      case 'ask':
        void answer(message.id, message.channel, message.fresh)
        break
    }
  }

  const request = <T>(channel: string, make: (id: number) => ToHub): Promise<T> => {
    const id = ++nextId
    return new Promise<T>((resolve, reject) => {
      if (!current || channels.get(keyOf(channel))?.status !== 'live') {
        reject(new HeraldChannelError(channel, 'NOT_SUBSCRIBED', `Not subscribed to ${channel} right now.`))
        return
      }
      requests.set(id, { resolve: resolve as (value: never) => void, reject, channel })
      send(make(id))
    })
  }

  const client: HeraldClient = {
    api,
    get state() {
      return connection
    },
    get closedReason() {
      return closedReason
    },
    get lastSeq() {
      return lastSeq ?? 0
    },
    get userId() {
      return userId
    },
    on: events.on,
    connect() {
      if (current) return
      closedReason = null
      setConnection('connecting')
      current = link()
      current.open({ message: onMessage, ready: () => void join() })
    },
    disconnect() {
      const leaving = current
      current = null
      leaving?.send({ type: 'leave' })
      leaving?.close()
      failRequests('DISCONNECTED', 'The client disconnected before the answer.')
      for (const channel of channels.values()) if (channel.status !== 'ended') channel.status = 'pending'
      setConnection('idle')
    },
    setToken(next) {
      tokens.set(next)
      if (!next) {
        userId = null
        lastSeq = null
        messageSeq = null
      }
      send({ type: 'setToken', token: next })
    },
    send(message) {
      send({ type: 'send', message })
    },
    subscribe(name, subscribeOptions = {}) {
      const key = keyOf(name)
      const { token, since, ...listener } = subscribeOptions
      let channel = channels.get(key)
      if (!channel || channel.status === 'ended') {
        channel = {
          name,
          listeners: channel?.listeners ?? new Set(),
          token,
          lastSeq: since ?? null,
          status: current ? 'subscribing' : 'pending',
        }
        channels.set(key, channel)
        send({ type: 'subscribe', name, since: channel.lastSeq, hasToken: token !== undefined })
      } else if (token !== undefined) channel.token = token
      const entry = channel
      entry.listeners.add(listener)
      let closed = false
      return {
        channel: name,
        get state() {
          return closed ? 'closed' : entry.status
        },
        get lastSeq() {
          return entry.lastSeq ?? 0
        },
        unsubscribe() {
          if (closed) return
          closed = true
          entry.listeners.delete(listener)
          if (entry.listeners.size > 0 || channels.get(key) !== entry) return
          channels.delete(key)
          send({ type: 'unsubscribe', name })
        },
        presence: () => request<ChannelPresence>(name, (id) => ({ type: 'presence', name, id })),
        publish: (data) => request<{ seq: number }>(name, (id) => ({ type: 'publish', name, id, data })),
      }
    },
  }
  if (options.autoConnect !== false) client.connect()
  return client
}
