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
  if (!claims) return null
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
