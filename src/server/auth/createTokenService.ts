import { SignJWT } from 'jose'
import { importHmacKey } from './hmacKey'
import { hs256Key, verifyHs256 } from './hs256'

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
  const verifyKey = hs256Key(secret)
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
      // The signature is the whole proof (only Herald holds the secret); then the claims Herald signs.
      const payload = verifyHs256(token, verifyKey, now())
      if (
        !payload ||
        payload.iss !== ISSUER ||
        typeof payload.sub !== 'string' ||
        typeof payload.sid !== 'string' ||
        typeof payload.addr !== 'string'
      )
        return null
      return {
        userId: payload.sub,
        sessionId: payload.sid,
        address: payload.addr,
        expiresAt: (payload.exp as number) * 1000,
      }
    },
  }
}
