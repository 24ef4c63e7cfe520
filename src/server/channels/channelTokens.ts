import { SignJWT } from 'jose'
import { importHmacKey } from '../auth/hmacKey'
import { hs256Key, verifyHs256 } from '../auth/hs256'

/** What a subscription token grants: `userId` may subscribe to `channel` until `expiresAt`. */
export interface ChannelTokenClaims {
  userId: string
  /** The channel's name as signed (compared with the canonical name by the caller). */
  channel: string
  /** Milliseconds since the epoch (the JWT's `exp`, whole seconds). */
  expiresAt: number
}

export interface ChannelTokenService {
  sign(claims: ChannelTokenClaims): Promise<string>
  /** The claims of a valid token unexpired at `now` (ms); null for anything else. */
  verify(token: string, now: number): Promise<ChannelTokenClaims | null>
}

/**
 * Subscription tokens for `private:` channels (docs/protocol.md §4): HS256 JWTs with `sub` (user id), `channel`
 * and `exp`, signed with CHANNEL_TOKEN_SECRET by Herald (POST /api/admin/channel-tokens) or by the app's own
 * backend, which is why no issuer or other claim is required. Expiry is judged on the caller's clock.
 */
export function createChannelTokenService(secret: string): ChannelTokenService {
  const key = importHmacKey(secret)
  const verifyKey = hs256Key(secret)
  return {
    async sign(claims) {
      return new SignJWT({ channel: claims.channel })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuedAt()
        .setExpirationTime(Math.floor(claims.expiresAt / 1000))
        .sign(await key)
    },
    async verify(token, now) {
      const payload = verifyHs256(token, verifyKey, now)
      if (!payload || typeof payload.sub !== 'string' || typeof payload.channel !== 'string') return null
      return { userId: payload.sub, channel: payload.channel, expiresAt: (payload.exp as number) * 1000 }
    },
  }
}
