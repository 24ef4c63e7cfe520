import { jwtVerify, SignJWT } from 'jose'
import { importHmacKey } from './hmacKey'

export interface TokenClaims {
  userId: string
  sessionId: string
  address: string
  /** Milliseconds since the epoch. */
  expiresAt: number
}

export interface TokenService {
  sign(claims: TokenClaims): Promise<string>
  /** Null for anything that is not a valid, unexpired token of ours. */
  verify(token: string): Promise<TokenClaims | null>
}

const ISSUER = 'herald'

/**
 * When a token issued at `now` ends. A JWT's exp is whole seconds, so the expiry is too: the expiresAt a client
 * is told is exactly when the token stops working (never earlier). At least `ttlSeconds` away, never past the
 * session's end.
 */
export function tokenExpiry(now: Date, ttlSeconds: number, sessionEnd: Date): Date {
  const end = Math.min(Math.ceil(now.getTime() / 1000) + ttlSeconds, Math.floor(sessionEnd.getTime() / 1000))
  return new Date(end * 1000)
}

/**
 * `now` (milliseconds since the epoch) is the server's clock: a token is issued and checked against it, so a
 * test that advances a manual clock sees the token expire without waiting for it.
 */
export function createTokenService(secret: string, now: () => number = Date.now): TokenService {
  const key = importHmacKey(secret)
  return {
    async sign(claims) {
      return new SignJWT({ sid: claims.sessionId, addr: claims.address })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER)
        .setSubject(claims.userId)
        .setIssuedAt(Math.floor(now() / 1000))
        .setExpirationTime(Math.floor(claims.expiresAt / 1000))
        .sign(await key)
    },
    async verify(token) {
      try {
        // The algorithm is pinned: a token claiming "none" or an asymmetric algorithm is refused.
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ['HS256'],
          issuer: ISSUER,
          currentDate: new Date(now()),
        })
        if (
          typeof payload.sub !== 'string' ||
          typeof payload.sid !== 'string' ||
          typeof payload.addr !== 'string'
        )
          return null
        if (typeof payload.exp !== 'number') return null
        return {
          userId: payload.sub,
          sessionId: payload.sid,
          address: payload.addr,
          expiresAt: payload.exp * 1000,
        }
      } catch {
        return null
      }
    },
  }
}
