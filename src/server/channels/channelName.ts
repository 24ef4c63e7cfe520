import { type Address, getAddress } from 'viem'
import { type ChannelNamespace, readChannelName } from '../../shared/protocol/channels'
import { HeraldError } from '../errors'

/** A channel as Herald names it: address channels with the checksummed address, in every name it sends. */
export interface ChannelName {
  /** The canonical name: the stream's key, and the name in every message about the channel. */
  name: string
  namespace: ChannelNamespace
  /** The token of a `token:` or `holders:` channel. */
  address: Address | null
}

export type ChannelReading = { ok: true; channel: ChannelName } | { ok: false; reason: string }

/** Reads a channel name by the contract's grammar (src/shared/protocol/channels.ts) into its canonical form. */
export function readChannel(raw: string): ChannelReading {
  const reading = readChannelName(raw)
  if (!reading.ok) return reading
  const { namespace, rest } = reading.parts
  if (namespace !== 'token' && namespace !== 'holders')
    return { ok: true, channel: { name: raw, namespace, address: null } }
  const address = getAddress(rest.toLowerCase())
  return { ok: true, channel: { name: `${namespace}:${address}`, namespace, address } }
}

/** The channel, or the HTTP error 422 INVALID_CHANNEL naming what is wrong. */
export function channelOrThrow(raw: string): ChannelName {
  const reading = readChannel(raw)
  if (!reading.ok) throw new HeraldError('INVALID_CHANNEL', reading.reason)
  return reading.channel
}
