import { eq } from 'drizzle-orm'
import type { Queryable } from '../db/openDatabase'
import { sessions } from '../db/schema'
import type { AuthenticatedSession } from './authenticateToken'
import { type TokenService, tokenExpiry } from './createTokenService'

/** A fresh token for a live session, never outliving the session itself. */
export async function refreshToken(
  db: Queryable,
  tokens: TokenService,
  params: { session: AuthenticatedSession; tokenTtlSeconds: number; now?: Date },
): Promise<{ token: string; expiresAt: Date }> {
  const now = params.now ?? new Date()
  const [row] = await db
    .select({ expiresAt: sessions.expiresAt })
    .from(sessions)
    .where(eq(sessions.id, params.session.sessionId))
  const sessionEnd = row?.expiresAt.getTime() ?? now.getTime()
  const expiresAt = tokenExpiry(now, params.tokenTtlSeconds, new Date(sessionEnd))
  const token = await tokens.sign({ ...params.session, expiresAt: expiresAt.getTime() })
  return { token, expiresAt }
}
