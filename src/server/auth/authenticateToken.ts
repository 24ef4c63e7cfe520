import { and, eq, gt, isNull, sql } from 'drizzle-orm'
import type { Queryable } from '../db/openDatabase'
import { sessions, users } from '../db/schema'
import type { TokenClaims, TokenService } from './createTokenService'

export interface AuthenticatedSession extends TokenClaims {
  /** The user's latest notification seq when the token was checked. */
  lastSeq: number
}

function prepareSessionQuery(db: Queryable) {
  return db
    .select({ address: users.address, lastSeq: users.lastSeq })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.id, sql.placeholder('sessionId')),
        eq(sessions.userId, sql.placeholder('userId')),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
      ),
    )
    .prepare('herald_authenticate_token')
}

// Every connect runs this query: built once per database handle instead of by drizzle on every call.
const prepared = new WeakMap<Queryable, ReturnType<typeof prepareSessionQuery>>()

/** A token is good while its signature and expiry hold and its session is neither revoked nor over. */
export async function authenticateToken(
  db: Queryable,
  tokens: TokenService,
  token: string,
): Promise<AuthenticatedSession | null> {
  const claims = await tokens.verify(token)
  return claims ? checkSession(db, claims) : null
}

/**
 * The second half of authenticateToken, for claims whose signature was verified: the session must be neither
 * revoked nor over. Also reads the user's latest notification seq (the base of their inbox stream) in the
 * same query. The WebSocket hub runs the two halves apart: between them it starts capturing the user's
 * notifications, so one committed while this query runs is not lost.
 */
export async function checkSession(db: Queryable, claims: TokenClaims): Promise<AuthenticatedSession | null> {
  if (!/^[0-9a-f-]{36}$/.test(claims.sessionId) || !/^\d+$/.test(claims.userId)) return null
  let query = prepared.get(db)
  if (!query) {
    query = prepareSessionQuery(db)
    prepared.set(db, query)
  }
  const [row] = await query.execute({ sessionId: claims.sessionId, userId: Number(claims.userId) })
  if (!row) return null
  return { ...claims, address: row.address, lastSeq: row.lastSeq }
}
