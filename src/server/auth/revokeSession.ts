import { and, eq, isNull, sql } from 'drizzle-orm'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { sessions } from '../db/schema'

/** Logout: the session's tokens stop working and its sockets close with 4001 on every instance. */
export async function revokeSession(
  db: Database,
  bus: Bus,
  params: { userId: string; sessionId: string },
): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(sessions.id, params.sessionId), isNull(sessions.revokedAt)))
  // Revoked in the database whatever happens next: a failed announcement is reported, not turned into an
  // error (the token no longer passes any check that reads the session).
  await bus.announce({ kind: 'session_revoked', userId: params.userId, sessionId: params.sessionId })
}
