import { and, eq, gt, isNull, sql } from 'drizzle-orm'
import type { Queryable } from '../db/openDatabase'
import { sessions, users } from '../db/schema'
import type { TokenClaims, TokenService } from './createTokenService'

export interface AuthenticatedSession extends TokenClaims {
  /** The user's latest notification seq when the token was checked. */
  lastSeq: number
}

/** A token is good while its signature and expiry hold and its session is neither revoked nor over. */
export async function authenticateToken(
  db: Queryable,
  tokens: TokenService,
  token: string,
): Promise<AuthenticatedSession | null> {
  const claims = await tokens.verify(token)
  if (!claims) return null
  if (!/^[0-9a-f-]{36}$/.test(claims.sessionId) || !/^\d+$/.test(claims.userId)) return null
  const [row] = await db
    .select({ address: users.address, lastSeq: users.lastSeq })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.id, claims.sessionId),
        eq(sessions.userId, Number(claims.userId)),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
      ),
    )
  if (!row) return null
  return { ...claims, address: row.address, lastSeq: row.lastSeq }
}
