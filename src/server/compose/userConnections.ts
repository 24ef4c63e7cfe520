import type { Presence } from '../channels/createPresence'

/**
 * Each user's authenticated connections over every instance (the library's `getUserConnectionCount`), kept by
 * the channel presence that already runs on the bus: every instance counts its own connections of a user on a
 * channel of that user (`herald:user:<id>`, a namespace no client can name, so no join or leave is ever sent),
 * and every replica adds up all instances'. A crashed instance's connections drop out within
 * PRESENCE_TTL_SECONDS, as its channel members do.
 */
export function createUserConnections(presence: Presence) {
  const channelOf = (userId: string) => `herald:user:${userId}`
  /** This instance's count per user, as the hub last reported it. */
  const local = new Map<string, number>()
  return {
    /** The hub's report: the user now has `connections` authenticated connections on this instance. */
    changed(userId: string, connections: number) {
      const before = local.get(userId) ?? 0
      const member = { userId, address: '' }
      for (let n = before; n < connections; n++) presence.add(channelOf(userId), member)
      for (let n = before; n > connections; n--) presence.remove(channelOf(userId), member)
      if (connections === 0) local.delete(userId)
      else local.set(userId, connections)
    },
    /** Over every instance, this one's changes so far included (presence settles within a second at most). */
    async count(userId: string): Promise<number> {
      await presence.settled()
      return presence.counts(channelOf(userId)).connections
    },
  }
}
