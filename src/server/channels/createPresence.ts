import type { ChannelMember } from '../../shared/protocol'
import type { Bus, BusEvent, PresenceBusMessage, PresenceEntry } from '../bus/types'
import type { ErrorReporter } from '../errors'
import type { Clock } from '../time/clock'
import { settleWithin } from '../time/withTimeout'
import { createPresenceReplica, type PresenceCounts, type PresenceTransition } from './presenceReplica'

export interface Presence {
  /** One more connection of `member` (null: an anonymous connection) subscribed to `channel` here. */
  add(channel: string, member: ChannelMember | null): void
  /** One connection fewer. */
  remove(channel: string, member: ChannelMember | null): void
  /** Users and connections on `channel` over every instance (anonymous connections count in connections only). */
  counts(channel: string): PresenceCounts
  /** The users on `channel` over every instance, with their connections there. */
  members(channel: string): (ChannelMember & { connections: number })[]
  /** Resolves once this instance's changes so far are part of what counts and members answer (at most 1 s). */
  settled(): Promise<void>
  /** Calls `listener` for every user's first connection on a channel in the cluster and their last one gone. */
  listen(listener: (transition: PresenceTransition) => void): () => void
  start(): void
  /** Tells the other instances this one is gone (its members leave at once), then stops. */
  stop(): Promise<void>
}

export interface PresenceDeps {
  bus: Bus
  clock: Clock
  /** An instance not heard from for this long is gone, and its members with it. */
  ttlSeconds: number
  onError: ErrorReporter
  /** This instance's name on the bus (default: random). */
  source?: string
}

const ANONYMOUS = ''
const SETTLE_MS = 1000

/**
 * Channel presence across instances, kept on the bus (docs/deploy.md says why, with the measurement). Each
 * instance counts its own connections per channel and user, and tells the others what changed, batched per
 * turn of the event loop and numbered; every instance, this one included, applies every instance's messages in
 * the bus's order to its replica (./presenceReplica.ts), so all of them agree on who is where and emit the same
 * `join`/`leave`, once per user. Heartbeats every third of PRESENCE_TTL_SECONDS carry each instance's latest
 * number; a gap, an instance heard of for the first time, or a bus that reconnected asks for a snapshot; an
 * instance not heard from for two heartbeats is dropped at the next check, so a crashed instance's members leave
 * within the TTL; a stopping one says `bye` and its members leave at once.
 */
export function createPresence(deps: PresenceDeps): Presence {
  const { bus, clock, onError } = deps
  const self = deps.source ?? crypto.randomUUID()
  const heartbeatMs = (deps.ttlSeconds * 1000) / 3
  const replica = createPresenceReplica()
  /** channel → user id ('' anonymous) → this instance's count. */
  const local = new Map<string, Map<string, { address: string | null; connections: number }>>()
  /** Pairs whose count changed since the last message. */
  const dirty = new Map<string, Set<string>>()
  let sentSeq = 0
  let sending: Promise<void> = Promise.resolve()
  let cancelFlush: (() => void) | null = null
  let cancelHeartbeat: (() => void) | null = null
  let unsubscribe: (() => void) | null = null
  let running = false
  /** When a snapshot was last asked of each source, so a burst of gaps asks once. */
  const requested = new Map<string, number>()
  const waiters: { seq: number; resolve: () => void }[] = []
  const listeners = new Set<(transition: PresenceTransition) => void>()

  const send = (message: PresenceBusMessage) => {
    // One after another: the bus then carries this instance's messages in the order of their numbers.
    sending = sending.then(() => bus.announce({ kind: 'presence', ...message } as BusEvent))
  }

  const entriesOf = (pairs: Iterable<[string, Iterable<string>]>): PresenceEntry[] => {
    const entries: PresenceEntry[] = []
    for (const [channel, keys] of pairs) {
      const counts = local.get(channel)
      for (const key of keys) {
        const count = counts?.get(key)
        entries.push([
          channel,
          key === ANONYMOUS ? null : key,
          count?.address ?? null,
          count?.connections ?? 0,
        ])
      }
    }
    return entries
  }

  const flush = () => {
    cancelFlush?.()
    cancelFlush = null
    if (dirty.size === 0 || !running) return
    const entries = entriesOf(dirty)
    dirty.clear()
    send({ op: 'changes', source: self, seq: ++sentSeq, entries })
  }

  const snapshot = () => {
    flush()
    send({
      op: 'snapshot',
      source: self,
      seq: sentSeq,
      entries: entriesOf([...local].map(([c, m]) => [c, m.keys()])),
    })
  }

  const change = (channel: string, member: ChannelMember | null, by: number) => {
    const key = member?.userId ?? ANONYMOUS
    let counts = local.get(channel)
    const count = counts?.get(key)
    const connections = (count?.connections ?? 0) + by
    if (connections <= 0) {
      if (!count) return
      counts!.delete(key)
      if (counts!.size === 0) local.delete(channel)
    } else if (count) count.connections = connections
    else {
      if (!counts) {
        counts = new Map()
        local.set(channel, counts)
      }
      counts.set(key, { address: member?.address ?? null, connections })
    }
    if (!running) return
    let keys = dirty.get(channel)
    if (!keys) {
      keys = new Set()
      dirty.set(channel, keys)
    }
    keys.add(key)
    cancelFlush ??= clock.schedule(flush, 0)
  }

  const report = (transitions: PresenceTransition[]) => {
    for (const transition of transitions)
      for (const listener of listeners) {
        try {
          listener(transition)
        } catch (error) {
          onError(error, `delivering a presence ${transition.kind} on ${transition.channel}`)
        }
      }
  }

  const ask = (source: string | null) => {
    if (source !== null) {
      const last = requested.get(source)
      if (last !== undefined && clock.now() - last < heartbeatMs) return
      requested.set(source, clock.now())
    }
    send({ op: 'request', source: self, to: source })
  }

  const onEvent = (event: BusEvent) => {
    if (event.kind !== 'presence' || !running) return
    const message = event as PresenceBusMessage
    if (message.op === 'request' && message.source !== self && (message.to === null || message.to === self))
      snapshot()
    const step = replica.apply(message, clock.now())
    if (message.op === 'snapshot') requested.delete(message.source)
    if (step.requestFrom !== null) ask(step.requestFrom)
    report(step.transitions)
    if (message.source === self) {
      const applied = replica.seqOf(self)
      for (let i = waiters.length - 1; i >= 0; i--)
        if (waiters[i]!.seq <= applied) waiters.splice(i, 1)[0]!.resolve()
    }
  }

  const beat = () => {
    cancelHeartbeat = null
    if (!running) return
    send({ op: 'heartbeat', source: self, seq: sentSeq })
    // Heard within two heartbeats, or gone: checked every heartbeat, so an instance that stops is dropped
    // at most PRESENCE_TTL_SECONDS after it was last heard.
    report(replica.expire(clock.now() - 2 * heartbeatMs, self))
    cancelHeartbeat = clock.schedule(beat, heartbeatMs)
  }

  return {
    add: (channel, member) => change(channel, member, 1),
    remove: (channel, member) => change(channel, member, -1),
    counts: (channel) => replica.counts(channel),
    listen(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    members: (channel) => replica.members(channel),
    settled() {
      flush()
      if (replica.seqOf(self) >= sentSeq || !running) return Promise.resolve()
      const { promise, resolve } = Promise.withResolvers<void>()
      waiters.push({ seq: sentSeq, resolve })
      return settleWithin(promise, SETTLE_MS, undefined)
    },
    start() {
      if (running) return
      running = true
      replica.register(self, clock.now())
      unsubscribe = bus.subscribe({
        onEvent,
        onResync: () => {
          // Messages may have been lost both ways: everyone's state is asked for, and ours is told.
          ask(null)
          snapshot()
        },
      })
      // Whatever was counted before the start (nothing, usually) goes out with the first message.
      for (const [channel, counts] of local) dirty.set(channel, new Set(counts.keys()))
      ask(null)
      flush()
      cancelHeartbeat = clock.schedule(beat, heartbeatMs)
    },
    async stop() {
      if (!running) return
      flush()
      running = false
      cancelFlush?.()
      cancelFlush = null
      cancelHeartbeat?.()
      cancelHeartbeat = null
      unsubscribe?.()
      unsubscribe = null
      send({ op: 'bye', source: self })
      for (const waiter of waiters.splice(0)) waiter.resolve()
      await settleWithin(sending, 2000, undefined)
    },
  }
}
