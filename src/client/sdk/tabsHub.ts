import { channelKey } from '../../shared/protocol/channels'
import { isServerMessage } from '../../shared/protocol/serverMessages'
import type { ChannelSubscription } from './channelSubscriptions'
import {
  type ChannelEvent,
  createAsks,
  type FromHub,
  type MemberHello,
  relayed,
  type ToHub,
} from './tabsProtocol'
import type { HeraldClient, HeraldClientOptions } from './types'

// The connection owner of a shared socket (shareAcrossTabs): it runs ONE ordinary client (directClient.ts, with
// today's socket and session reducer) for every member (a HeraldClient in some tab), and relays. It runs in a
// SharedWorker, or in the tab that holds the leader lock; the transport (tabsTransport.ts) delivers the
// members' messages and reports a member gone. No DOM here: it is tested with plain functions.

export interface TabsHubOptions {
  url: string
  /** Makes the one real client (createDirectClient, given so this file does not import the socket). */
  createClient(options: HeraldClientOptions): HeraldClient
  WebSocket?: unknown
  fetch?: typeof fetch
  /** How long a member has to answer a token question before it counts as "no token" (default 5 s). */
  askTimeoutMs?: number
  /** How long to gather the members' joins before opening the socket (default 30 ms). */
  gatherMs?: number
}

export interface TabsHub {
  /** A member's message; `post` answers that member (recorded on its join). */
  receive(member: string, message: ToHub, post: (message: FromHub) => void): void
  /** The member is gone (its tab closed or crashed, or it left). */
  detach(member: string): void
  readonly members: number
  stop(): void
}

type Wanted = MemberHello['channels'][number]

interface Member {
  post(message: FromHub): void
  token: string | null
  /** The last seq the member had delivered when it joined. */
  lastSeq: number | null
  channels: Set<string>
  /** Channels it asked for before there was a socket to subscribe them on. */
  wanted: Wanted[]
}

interface SharedChannel {
  name: string
  subscription: ChannelSubscription
  members: Set<string>
  hasToken: boolean
  /** The last `subscribed` answer, for a member that joins a live subscription. */
  subscribed: Extract<ChannelEvent, { kind: 'subscribed' }> | null
}

export function createTabsHub(options: TabsHubOptions): TabsHub {
  const members = new Map<string, Member>()
  const channels = new Map<string, SharedChannel>()
  const asks = createAsks(options.askTimeoutMs ?? 5000)
  let client: HeraldClient | null = null
  let offs: (() => void)[] = []
  /** The session's token, as the members last set it (one session per origin: the latest wins). */
  let token: string | null = null
  /** The member whose token the session is; asked for a fresh one after a refusal. */
  let tokenMember: string | null = null
  let firstToken = true
  let startTimer: ReturnType<typeof setTimeout> | null = null
  /** The connection options of the first member to join. */
  let connectOptions: MemberHello['options'] = {}

  const signedIn = (id: string) => members.get(id)?.token != null
  const toAll = (message: FromHub, only?: (id: string) => boolean) => {
    for (const [id, member] of members) if (!only || only(id)) member.post(message)
  }
  /** The connection as member `id` sees it: an anonymous member is not told whose socket it shares. */
  const stateOf = (id: string): FromHub => ({
    type: 'state',
    connection: client?.state ?? 'idle',
    closedReason: client?.closedReason ?? null,
    userId: signedIn(id) ? (client?.userId ?? null) : null,
    lastSeq: client && client.lastSeq > 0 ? client.lastSeq : null,
  })
  const stateToAll = () => {
    for (const [id, member] of members) member.post(stateOf(id))
  }

  const ask = (id: string, question: { channel?: string; fresh?: boolean }): Promise<string | null> => {
    const member = members.get(id)
    return member
      ? asks.ask((askId) => member.post({ type: 'ask', id: askId, ...question }))
      : Promise.resolve(null)
  }

  /**
   * The lowest seq a signed-in member has delivered: after a handover the new socket resumes there, and each
   * member drops what it already has; a member without one (a new tab) starts from "now".
   */
  const resumeFrom = () => {
    const seqs = [...members.values()].flatMap((m) =>
      m.token !== null && m.lastSeq !== null ? [m.lastSeq] : [],
    )
    return seqs.length > 0 ? Math.min(...seqs) : undefined
  }

  const subscribeWanted = (id: string) => {
    for (const wanted of members.get(id)?.wanted.splice(0) ?? [])
      subscribe(id, wanted.name, wanted.since, wanted.hasToken)
  }

  const startSoon = () => {
    if (client || startTimer) return
    // After a handover every tab joins at once: gather them, so the socket resumes from the lowest seq.
    startTimer = setTimeout(() => {
      startTimer = null
      if (members.size > 0 && !client) start()
    }, options.gatherMs ?? 30)
  }

  const start = () => {
    firstToken = true
    client = options.createClient({
      url: options.url,
      ...connectOptions,
      WebSocket: options.WebSocket,
      fetch: options.fetch,
      since: resumeFrom(),
      autoConnect: false,
      getToken: async () => {
        // The first connection takes the members' token; a later ask means it was refused or the session
        // ended: the member that set it looks again (its getToken).
        if (firstToken) {
          firstToken = false
          return token
        }
        if (tokenMember === null) return null
        const fresh = await ask(tokenMember, { fresh: true })
        token = fresh
        return fresh
      },
    })
    const current = client
    offs = [
      current.on('state', stateToAll),
      current.on('authenticated', stateToAll),
      ...relayed('everyone').map((event) =>
        current.on(event, (...args: unknown[]) => toAll({ type: 'event', event, args })),
      ),
      current.on('message', (message) =>
        toAll(
          { type: 'event', event: 'message', args: [message] },
          isServerMessage(message) ? signedIn : undefined,
        ),
      ),
      current.on('token', (session) => {
        token = session.token
        for (const member of members.values()) if (member.token !== null) member.token = session.token
      }),
      ...relayed('user').map((event) =>
        current.on(event, (...args: unknown[]) => toAll({ type: 'event', event, args }, signedIn)),
      ),
    ]
    current.connect()
    for (const [id, member] of members) {
      member.post(stateOf(id))
      subscribeWanted(id)
    }
  }

  /** A fresh socket for the same members, their channels subscribed again from the seq they reached. */
  const restart = () => {
    for (const [key, channel] of channels)
      for (const id of channel.members) {
        const member = members.get(id)
        member?.channels.delete(key)
        const since = channel.subscription.lastSeq || null
        member?.wanted.push({ name: channel.name, since, hasToken: channel.hasToken })
      }
    stopClient()
  }

  const stopClient = () => {
    for (const off of offs) off()
    offs = []
    for (const channel of channels.values()) channel.subscription.unsubscribe()
    channels.clear()
    client?.disconnect()
    client = null
  }

  const toChannel = (key: string, event: ChannelEvent) => {
    const channel = channels.get(key)
    if (!channel) return
    for (const id of channel.members) members.get(id)?.post({ type: 'channel', name: channel.name, event })
    if (event.kind === 'ended') {
      for (const id of channel.members) members.get(id)?.channels.delete(key)
      channels.delete(key)
    }
  }

  const subscribe = (id: string, name: string, since: number | null, hasToken: boolean) => {
    const member = members.get(id)
    if (!member) return
    if (!client) {
      member.wanted.push({ name, since, hasToken })
      return
    }
    const key = channelKey(name) ?? name
    member.channels.add(key)
    const existing = channels.get(key)
    if (existing) {
      existing.members.add(id)
      if (existing.subscribed) member.post({ type: 'channel', name, event: existing.subscribed })
      return
    }
    const channel: SharedChannel = {
      name,
      members: new Set([id]),
      hasToken,
      subscribed: null,
      subscription: null!,
    }
    channels.set(key, channel)
    channel.subscription = client.subscribe(name, {
      since: since ?? undefined,
      // A channel token lives in the tab that subscribed (a string, or a function asked at every subscribe).
      token: hasToken
        ? () => {
            const asker = [...channel.members].find((m) => members.has(m))
            return asker ? ask(asker, { channel: name }) : null
          }
        : undefined,
      onPublication: (publication) => toChannel(key, { kind: 'publication', publication }),
      onSubscribed: (message) => {
        channel.subscribed = { kind: 'subscribed', message: { ...message, replayed: 0 } }
        toChannel(key, { kind: 'subscribed', message })
      },
      onReset: (message) => toChannel(key, { kind: 'reset', seq: message.seq, message }),
      onJoin: (joined) => toChannel(key, { kind: 'join', member: joined }),
      onLeave: (left) => toChannel(key, { kind: 'leave', member: left }),
      onEnded: (reason, message) => toChannel(key, { kind: 'ended', reason, message }),
    })
  }

  const unsubscribe = (id: string, key: string) => {
    const member = members.get(id)
    member?.channels.delete(key)
    if (member) member.wanted = member.wanted.filter((w) => (channelKey(w.name) ?? w.name) !== key)
    const channel = channels.get(key)
    if (!channel) return
    channel.members.delete(id)
    if (channel.members.size > 0) return
    channels.delete(key)
    channel.subscription.unsubscribe()
  }

  const request = (
    id: string,
    name: string,
    requestId: number,
    run: (s: ChannelSubscription) => Promise<never>,
  ) => {
    const channel = channels.get(channelKey(name) ?? name)
    const post = (message: FromHub) => members.get(id)?.post(message)
    if (!channel) {
      post({
        type: 'result',
        id: requestId,
        ok: false,
        code: 'NOT_SUBSCRIBED',
        message: `Not subscribed to ${name}.`,
      })
      return
    }
    run(channel.subscription).then(
      (value) => post({ type: 'result', id: requestId, ok: true, value }),
      (error: { code?: string; message?: string }) =>
        post({
          type: 'result',
          id: requestId,
          ok: false,
          code: error.code ?? 'ERROR',
          message: error.message,
        }),
    )
  }

  const setToken = (id: string, next: string | null) => {
    const member = members.get(id)
    if (!member) return
    member.token = next
    if (next === null) {
      // Sign-out in one tab signs every tab out: the session is the origin's, not the tab's.
      for (const [other, m] of members) {
        if (other === id || m.token === null) continue
        m.token = null
        m.post({ type: 'signedOut' })
      }
      tokenMember = null
    } else tokenMember = id
    if (token === next) return
    token = next
    client?.setToken(next)
  }

  const join = (id: string, hello: MemberHello, post: (message: FromHub) => void) => {
    const known = members.get(id)
    const channelsOf = known?.channels ?? new Set<string>()
    const wanted = hello.channels.filter((c) => !channelsOf.has(channelKey(c.name) ?? c.name))
    members.set(id, { post, token: hello.token, lastSeq: hello.lastSeq, channels: channelsOf, wanted })
    if (members.size === 1) connectOptions = hello.options
    if (hello.token !== null) {
      tokenMember = id
      // A signed-in tab joining an anonymous socket: a fresh one that resumes from the tab's seq (a token
      // handed to the open socket would start from "now", and the tab would miss what came meanwhile).
      if (client && token === null && hello.lastSeq !== null) restart()
      if (hello.token !== token) client?.setToken(hello.token)
      token = hello.token
    }
    if (!client) {
      startSoon()
      return
    }
    post(stateOf(id))
    subscribeWanted(id)
  }

  const hub: TabsHub = {
    receive(id, message, post) {
      if (message.type === 'join') {
        join(id, message, post)
        return
      }
      const member = members.get(id)
      if (!member) return
      switch (message.type) {
        case 'leave':
          hub.detach(id)
          break
        case 'setToken':
          setToken(id, message.token)
          break
        case 'send':
          client?.send(message.message)
          break
        case 'subscribe':
          subscribe(id, message.name, message.since, message.hasToken)
          break
        case 'unsubscribe':
          unsubscribe(id, channelKey(message.name) ?? message.name)
          break
        case 'publish':
          request(id, message.name, message.id, (s) => s.publish(message.data) as Promise<never>)
          break
        case 'presence':
          request(id, message.name, message.id, (s) => s.presence() as Promise<never>)
          break
        case 'answer':
          asks.answer(message.id, message.token)
          break
      }
    },
    detach(id) {
      const member = members.get(id)
      if (!member) return
      for (const key of [...member.channels]) unsubscribe(id, key)
      members.delete(id)
      if (tokenMember === id) tokenMember = [...members].find(([, m]) => m.token !== null)?.[0] ?? null
      // Nobody left to serve: close the socket; the next member starts afresh from its own seq.
      if (members.size === 0) stopClient()
    },
    get members() {
      return members.size
    },
    stop() {
      if (startTimer) clearTimeout(startTimer)
      startTimer = null
      members.clear()
      stopClient()
    },
  }
  return hub
}
