import { jwtVerify, SignJWT } from 'jose'
import { importHmacKey } from '../auth/hmacKey'

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
      try {
        // The algorithm is pinned: a token claiming "none" or an asymmetric algorithm is refused.
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ['HS256'],
          currentDate: new Date(now),
          requiredClaims: ['exp', 'sub'],
        })
        if (typeof payload.sub !== 'string' || typeof payload.channel !== 'string') return null
        if (typeof payload.exp !== 'number') return null
        return { userId: payload.sub, channel: payload.channel, expiresAt: payload.exp * 1000 }
      } catch {
        return null
      }
    },
  }
}
