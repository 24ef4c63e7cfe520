import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto'

/** The secret of an HS256 verifier, made once (a KeyObject: the HMAC key is not derived again per token). */
export function hs256Key(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'))
}

/**
 * Verifies a compact HS256 JWT and answers its payload, or null for anything else. jose still signs every
 * token; verification is done here because it runs on every socket sign-in and every private subscribe, and in
 * Bun jose's WebCrypto HMAC check costs about 23 µs of CPU per token against node:crypto's 3 µs (a fifth of
 * a socket sign-in; bench/, issue 14's connects/s).
 *
 * What is checked, as jose's jwtVerify does with the options Herald gave it: three segments; the signature, the
 * HMAC-SHA256 of the first two under `key`, compared in constant time with the third as its canonical base64url
 * (so no other spelling of the same bytes passes); a JSON object header with `alg` HS256 and no `crit` (no
 * extension Herald would have to understand); a JSON object payload; `exp` a number and after `nowMs` (in whole
 * seconds, expired when `exp <= now`, as jose); `nbf`, when present, a number not after now; `iat`, when present,
 * a number. The claims that say what the token grants are the caller's to check.
 */
export function verifyHs256(token: string, key: KeyObject, nowMs: number): Record<string, unknown> | null {
  if (typeof token !== 'string' || token.length > 8192) return null
  const first = token.indexOf('.')
  const last = token.lastIndexOf('.')
  if (first <= 0 || last === first || token.indexOf('.', first + 1) !== last || last === token.length - 1)
    return null
  const expected = Buffer.from(createHmac('sha256', key).update(token.slice(0, last)).digest('base64url'))
  const presented = Buffer.from(token.slice(last + 1))
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null
  const header = decodeSegment(token.slice(0, first))
  if (header?.alg !== 'HS256' || 'crit' in header) return null
  const payload = decodeSegment(token.slice(first + 1, last))
  if (!payload) return null
  const now = Math.floor(nowMs / 1000)
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp) || payload.exp <= now) return null
  if ('nbf' in payload && (typeof payload.nbf !== 'number' || payload.nbf > now)) return null
  if ('iat' in payload && typeof payload.iat !== 'number') return null
  return payload
}

function decodeSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null
  } catch {
    return null
  }
}
