import type { AuthenticatedSession } from '../auth/authenticateToken'
import { HeraldError } from '../errors'

/** The Bearer token of a request, checked against its session; anything else is a 401. */
export async function requireSession(
  authenticate: (token: string) => Promise<AuthenticatedSession | null>,
  authorization: string | undefined,
): Promise<AuthenticatedSession> {
  const match = authorization?.match(/^Bearer\s+(\S+)$/i)
  if (!match)
    throw new HeraldError('UNAUTHORIZED', 'Send "Authorization: Bearer <token>" from /api/auth/verify.')
  const session = await authenticate(match[1]!)
  if (!session)
    throw new HeraldError('UNAUTHORIZED', 'The token is invalid, expired or revoked; sign in again.')
  return session
}
