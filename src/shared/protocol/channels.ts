// The rules of channel names and namespaces (docs/protocol.md §4), in one place: the server checks names and
// rights with them, the SDK keys its subscriptions with them. Plain constants and functions, no schema library
// and no viem (the server checksums addresses itself): browsers load this module.

export const CHANNEL_NAMESPACES = ['public', 'token', 'private', 'holders'] as const
export type ChannelNamespace = (typeof CHANNEL_NAMESPACES)[number]

/** Longest channel name, namespace and colon included. */
export const CHANNEL_NAME_MAX = 200

/** Every character a channel name may hold. */
const NAME_CHARACTERS = /^[A-Za-z0-9_\-.:@]+$/
const ADDRESS = /^0x[0-9a-fA-F]{40}$/

/** Namespaces whose second half is a token's address (`token:0x…`, `holders:0x…`). */
export const ADDRESS_NAMESPACES: readonly ChannelNamespace[] = ['token', 'holders']
/** Namespaces whose presence lists members (`join`/`leave`); the others count only. */
export const MEMBER_NAMESPACES: readonly ChannelNamespace[] = ['private', 'holders']
/** Namespaces where a subscribed client may publish; elsewhere only the admin API and the server do. */
export const CLIENT_PUBLISH_NAMESPACES: readonly ChannelNamespace[] = ['private', 'holders']

export interface ChannelNameParts {
  namespace: ChannelNamespace
  /** What follows the namespace's colon (for address namespaces, the address as given). */
  rest: string
}

export type ChannelNameReading = { ok: true; parts: ChannelNameParts } | { ok: false; reason: string }

/**
 * Reads a channel name: `namespace:name`, at most CHANNEL_NAME_MAX characters of `A–Z a–z 0–9 _ - . : @`, a
 * known namespace and a non-empty name; for `token:` and `holders:` the name is a `0x` address of 40 hex digits
 * in any case. The reason says what is wrong, in a sentence.
 */
export function readChannelName(name: string): ChannelNameReading {
  if (name.length === 0) return { ok: false, reason: 'A channel name is required.' }
  if (name.length > CHANNEL_NAME_MAX)
    return { ok: false, reason: `A channel name has at most ${CHANNEL_NAME_MAX} characters.` }
  if (!NAME_CHARACTERS.test(name))
    return { ok: false, reason: 'A channel name holds only A–Z a–z 0–9 _ - . : @.' }
  const colon = name.indexOf(':')
  const namespace = name.slice(0, Math.max(0, colon))
  if (colon < 0 || !(CHANNEL_NAMESPACES as readonly string[]).includes(namespace))
    return {
      ok: false,
      reason: `A channel name starts with a known namespace: ${CHANNEL_NAMESPACES.map((n) => `${n}:`).join(', ')}.`,
    }
  const rest = name.slice(colon + 1)
  if (rest.length === 0) return { ok: false, reason: 'A channel name has a name after its namespace.' }
  const parts = { namespace: namespace as ChannelNamespace, rest }
  if (ADDRESS_NAMESPACES.includes(parts.namespace) && !ADDRESS.test(rest))
    return { ok: false, reason: `A ${namespace}: channel is named by a 0x address of 40 hex digits.` }
  return { ok: true, parts }
}

/**
 * One key per channel, whatever case its address was written in: the server names address channels with the
 * checksummed address, a client may have subscribed with any case. Null for a name that is not a channel.
 */
export function channelKey(name: string): string | null {
  const reading = readChannelName(name)
  if (!reading.ok) return null
  const { namespace, rest } = reading.parts
  return ADDRESS_NAMESPACES.includes(namespace) ? `${namespace}:${rest.toLowerCase()}` : name
}

export const hasMembers = (namespace: ChannelNamespace): boolean => MEMBER_NAMESPACES.includes(namespace)
export const clientMayPublish = (namespace: ChannelNamespace): boolean =>
  CLIENT_PUBLISH_NAMESPACES.includes(namespace)
