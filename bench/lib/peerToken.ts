import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The peers' whole authentication: `<userId>.<HMAC-SHA256(secret, userId) in hex>`, the least work that still
 * checks a signed token on every connection (Herald checks an HS256 JWT and its session row).
 */
export function signPeerToken(secret: string, userId: string): string {
  return `${userId}.${createHmac('sha256', secret).update(userId).digest('hex')}`
}

/** The user id, or null when the token was not signed with `secret`. */
export function verifyPeerToken(secret: string, token: unknown): string | null {
  if (typeof token !== 'string') return null
  const dot = token.indexOf('.')
  if (dot <= 0) return null
  const userId = token.slice(0, dot)
  const presented = Buffer.from(token.slice(dot + 1), 'hex')
  const expected = createHmac('sha256', secret).update(userId).digest()
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null
  return userId
}

/** The Socket.IO servers' middleware: the peers' token from the handshake's auth, its user id in `socket.data`. */
export function peerAuthMiddleware(secret: string) {
  return (
    socket: { handshake: { auth: unknown }; data: { userId?: string } },
    next: (error?: Error) => void,
  ): void => {
    const userId = verifyPeerToken(secret, (socket.handshake.auth as { token?: unknown }).token)
    if (!userId) {
      next(new Error('unauthorized'))
      return
    }
    socket.data.userId = userId
    next()
  }
}
