import type { BusEvent } from './types'

/**
 * What a bus that delivers each instance only what it follows (Redis sharded pub/sub) routes by. A channel's
 * events go to `c:<channel>` (a `holder_check` to its `holders:` room); a user's, to one of USER_SHARDS shards,
 * `u:<n>` (an instance follows the shards of the users it holds sockets of). Events every instance needs
 * (broadcasts, presence, revoked sessions for every instance's revocation list) have no topic: they travel
 * on the bus's common channel.
 */
export const USER_SHARDS = 64

/** FNV-1a of the user id, so every process maps a user to the same shard. */
export function userShard(userId: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % USER_SHARDS
}

export const channelTopic = (channel: string) => `c:${channel}`
export const userTopic = (userId: string) => `u:${userShard(userId)}`

export function topicOf(event: BusEvent): string | null {
  switch (event.kind) {
    case 'item':
      return event.stream === 'channel' ? channelTopic(event.key) : userTopic(event.key)
    case 'user':
      return userTopic(event.userId)
    case 'holder_check':
      return channelTopic(`holders:${event.token}`)
    default:
      return null
  }
}
