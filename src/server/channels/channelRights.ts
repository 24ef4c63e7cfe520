import { type Address, getAddress } from 'viem'
import type { ChannelMember } from '../../shared/protocol'
import type { ErrorReporter } from '../errors'
import type { ChannelName } from './channelName'
import type { ChannelTokenService } from './channelTokens'
import type { HolderBalance } from './holderBalance'

/** Why a right is refused: no user where one is needed, no right, or the chain could not be asked. */
export type RightRefusal = { reason: 'anonymous' | 'forbidden' | 'unavailable'; message: string }

/** A right to subscribe (and to read the history): until `expiresAt` (a token's), or while `holds` stays true. */
export interface SubscribeRight {
  /** Milliseconds since the epoch; null: no end of its own. */
  expiresAt: number | null
  /** For `holders:` channels: the token whose balance keeps the right. */
  heldToken: Address | null
}

export type RightCheck = { ok: true; right: SubscribeRight } | { ok: false; refusal: RightRefusal }

export interface ChannelRights {
  /**
   * Whether `viewer` (null: anonymous) may subscribe to `channel` (docs/protocol.md §4): anyone on `public:`
   * and `token:`; on `private:` a user whose subscription `token` names them and exactly this channel and is
   * unexpired; on `holders:` a user whose address holds a non-zero balance of the token.
   */
  check(channel: ChannelName, viewer: ChannelMember | null, token: string | undefined): Promise<RightCheck>
  /** Whether `owner` holds a non-zero balance of `token`; throws when the chain cannot be read. */
  holds(token: string, owner: string): Promise<boolean>
}

const refuse = (reason: RightRefusal['reason'], message: string): RightCheck => ({
  ok: false,
  refusal: { reason, message },
})
const FOREVER: RightCheck = { ok: true, right: { expiresAt: null, heldToken: null } }

/**
 * The rights of the four namespaces, checked on every subscribe, history read and re-check, on every instance.
 * `tokens` is null when no CHANNEL_TOKEN_SECRET is configured (private channels are then closed), `balanceOf`
 * when no chain is (holders' channels are then closed).
 */
export function createChannelRights(deps: {
  tokens: ChannelTokenService | null
  balanceOf: HolderBalance | null
  now: () => number
  onError: ErrorReporter
}): ChannelRights {
  const holds = async (token: string, owner: string) => {
    if (!deps.balanceOf) return false
    return (await deps.balanceOf(getAddress(token), getAddress(owner))) > 0n
  }
  return {
    holds,
    async check(channel, viewer, token) {
      switch (channel.namespace) {
        case 'public':
        case 'token':
          return FOREVER
        case 'private': {
          if (viewer === null) return refuse('anonymous', `Sign in to subscribe to ${channel.name}.`)
          if (!deps.tokens)
            return refuse('forbidden', 'Private channels are closed here: CHANNEL_TOKEN_SECRET is not set.')
          if (token === undefined)
            return refuse('forbidden', `${channel.name} needs a subscription token for this channel.`)
          const claims = await deps.tokens.verify(token, deps.now())
          if (!claims) return refuse('forbidden', 'The subscription token is invalid or expired.')
          if (claims.userId !== viewer.userId)
            return refuse('forbidden', 'The subscription token was issued to another user.')
          if (claims.channel !== channel.name)
            return refuse('forbidden', 'The subscription token is for another channel.')
          return { ok: true, right: { expiresAt: claims.expiresAt, heldToken: null } }
        }
        case 'holders': {
          if (viewer === null) return refuse('anonymous', `Sign in to enter ${channel.name}.`)
          if (!deps.balanceOf)
            return refuse('forbidden', "Holders' channels are closed here: no chain is configured.")
          const heldToken = channel.address!
          let holder: boolean
          try {
            holder = await holds(heldToken, viewer.address)
          } catch (error) {
            deps.onError(error, `reading the balance of ${viewer.address} in ${heldToken}`)
            return refuse('unavailable', 'The chain cannot be read right now; try again shortly.')
          }
          if (!holder) return refuse('forbidden', `Only holders of ${heldToken} may enter ${channel.name}.`)
          return { ok: true, right: { expiresAt: null, heldToken } }
        }
      }
    },
  }
}
