import type { AuthenticatedSession } from '../auth/authenticateToken'
import { HeraldError } from '../errors'
import { bearerToken } from './bearerToken'

/** The Bearer token of a request, checked against its session; anything else is a 401. */
export async function requireSession(
  authenticate: (token: string) => Promise<AuthenticatedSession | null>,
  authorization: string | undefined,
): Promise<AuthenticatedSession> {
  const token = bearerToken(authorization)
  if (token === null)
    throw new HeraldError('UNAUTHORIZED', 'Send "Authorization: Bearer <token>" from /api/auth/verify.')
  const session = await authenticate(token)
  if (!session)
    throw new HeraldError('UNAUTHORIZED', 'The token is invalid, expired or revoked; sign in again.')
  return session
}
