import type { ChannelMember } from '../../shared/protocol'
import type { PresenceBusMessage, PresenceEntry } from '../bus/types'

/** A user's first connection on a channel anywhere in the cluster (`join`), or their last one gone (`leave`). */
export interface PresenceTransition {
  channel: string
  kind: 'join' | 'leave'
  member: ChannelMember
}

export interface PresenceCounts {
  users: number
  connections: number
}

/** What applying a message means: the transitions it caused, and whether its source must send a snapshot. */
export interface PresenceStep {
  transitions: PresenceTransition[]
  /** The source whose state is incomplete here (a gap in its numbers, or a source heard of for the first time). */
  requestFrom: string | null
}

interface Count {
  address: string | null
  connections: number
}

interface Source {
  /** The number of its last message applied here. */
  seq: number
  heardAt: number
  /** Whether its whole state is known here (a snapshot arrived, or it is this instance, known from its start). */
  synced: boolean
  /** channel → user id ('' for its anonymous connections) → its count there. */
  entries: Map<string, Map<string, Count>>
}

interface Totals {
  anonymous: number
  connections: number
  users: Map<string, Count>
}

const ANONYMOUS = ''

/**
 * The cluster's channel presence as one instance knows it: every source's (instance's) counts per channel and
 * user, from the messages the bus brings, and their totals. It is pure state: every instance applies the same
 * messages in the same order (the bus's), so every instance computes the same joins and leaves, and one user's
 * several connections, on one instance or many, make one `join` and one `leave`.
 *
 * Counts are absolute, so a message applied twice changes nothing, and one that is lost is corrected by the
 * next count of the same pair or by a snapshot, which a gap in a source's numbers asks for.
 */
export function createPresenceReplica() {
  const sources = new Map<string, Source>()
  const totals = new Map<string, Totals>()

  const setCount = (
    source: Source,
    channel: string,
    userId: string | null,
    address: string | null,
    connections: number,
    out: PresenceTransition[],
  ) => {
    const key = userId ?? ANONYMOUS
    let perChannel = source.entries.get(channel)
    const before = perChannel?.get(key)?.connections ?? 0
    const after = Math.max(0, connections)
    if (before === after) return
    if (after === 0) {
      perChannel!.delete(key)
      if (perChannel!.size === 0) source.entries.delete(channel)
    } else {
      if (!perChannel) {
        perChannel = new Map()
        source.entries.set(channel, perChannel)
      }
      perChannel.set(key, { address, connections: after })
    }
    let total = totals.get(channel)
    if (!total) {
      total = { anonymous: 0, connections: 0, users: new Map() }
      totals.set(channel, total)
    }
    const difference = after - before
    total.connections += difference
    if (userId === null) total.anonymous += difference
    else {
      const user = total.users.get(userId)
      const was = user?.connections ?? 0
      const now = was + difference
      if (now <= 0) {
        total.users.delete(userId)
        if (was > 0) out.push({ channel, kind: 'leave', member: { userId, address: user!.address ?? '' } })
      } else if (user) user.connections = now
      else {
        total.users.set(userId, { address, connections: now })
        out.push({ channel, kind: 'join', member: { userId, address: address ?? '' } })
      }
    }
    if (total.connections <= 0 && total.users.size === 0) totals.delete(channel)
  }

  const applyEntries = (source: Source, entries: readonly PresenceEntry[], out: PresenceTransition[]) => {
    for (const [channel, userId, address, connections] of entries)
      setCount(source, channel, userId, address, connections, out)
  }

  /** Every count of the source set to what `entries` say, anything else it had to zero. */
  const replace = (source: Source, entries: readonly PresenceEntry[], out: PresenceTransition[]) => {
    const listed = new Set<string>()
    for (const [channel, userId] of entries) listed.add(`${channel}\n${userId ?? ANONYMOUS}`)
    for (const [channel, perChannel] of [...source.entries])
      for (const [key, count] of [...perChannel])
        if (!listed.has(`${channel}\n${key}`))
          setCount(source, channel, key === ANONYMOUS ? null : key, count.address, 0, out)
    applyEntries(source, entries, out)
  }

  const drop = (id: string, out: PresenceTransition[]) => {
    const source = sources.get(id)
    if (!source) return
    replace(source, [], out)
    sources.delete(id)
  }

  const sourceOf = (id: string, now: number): { source: Source; known: boolean } => {
    const existing = sources.get(id)
    if (existing) {
      existing.heardAt = now
      return { source: existing, known: true }
    }
    const source: Source = { seq: 0, heardAt: now, synced: false, entries: new Map() }
    sources.set(id, source)
    return { source, known: false }
  }

  return {
    /** This instance, known completely from its start: its own messages need no snapshot. */
    register(id: string, now: number) {
      if (!sources.has(id)) sources.set(id, { seq: 0, heardAt: now, synced: true, entries: new Map() })
    },

    apply(message: PresenceBusMessage, now: number): PresenceStep {
      const transitions: PresenceTransition[] = []
      let requestFrom: string | null = null
      switch (message.op) {
        case 'changes': {
          const { source, known } = sourceOf(message.source, now)
          if (message.seq <= source.seq) break
          // Counts are absolute: applying them is right even after a gap; the snapshot completes the rest.
          if (!known || !source.synced || message.seq !== source.seq + 1) requestFrom = message.source
          source.seq = message.seq
          applyEntries(source, message.entries, transitions)
          break
        }
        case 'snapshot': {
          const { source } = sourceOf(message.source, now)
          if (source.synced && message.seq < source.seq) break
          source.seq = message.seq
          source.synced = true
          replace(source, message.entries, transitions)
          break
        }
        case 'heartbeat': {
          const { source, known } = sourceOf(message.source, now)
          if (!known || !source.synced || message.seq > source.seq) requestFrom = message.source
          break
        }
        case 'bye':
          drop(message.source, transitions)
          break
        case 'request':
          sourceOf(message.source, now)
          break
      }
      return { transitions, requestFrom }
    },

    /** The seq of the last message of `id` applied here (0: none). */
    seqOf(id: string): number {
      return sources.get(id)?.seq ?? 0
    },

    /** Sources other than `keep` not heard from since `heardBefore` are gone (crashed): their counts go. */
    expire(heardBefore: number, keep: string): PresenceTransition[] {
      const out: PresenceTransition[] = []
      for (const [id, source] of [...sources]) if (id !== keep && source.heardAt < heardBefore) drop(id, out)
      return out
    },

    counts(channel: string): PresenceCounts {
      const total = totals.get(channel)
      return total
        ? { users: total.users.size, connections: total.connections }
        : { users: 0, connections: 0 }
    },

    members(channel: string): (ChannelMember & { connections: number })[] {
      const total = totals.get(channel)
      if (!total) return []
      return [...total.users].map(([userId, user]) => ({
        userId,
        address: user.address ?? '',
        connections: user.connections,
      }))
    },

    /** Sources known here (this instance included). */
    get sources(): number {
      return sources.size
    },
  }
}

export type PresenceReplica = ReturnType<typeof createPresenceReplica>
