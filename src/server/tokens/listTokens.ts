import { desc, eq } from 'drizzle-orm'
import type { Queryable } from '../db/openDatabase'
import { tokens } from '../db/schema'
import { type TokenView, toTokenView } from './toTokenView'

/** The caller's tokens, newest first. */
export async function listTokens(db: Queryable, params: { userId: string }): Promise<TokenView[]> {
  const rows = await db
    .select()
    .from(tokens)
    .where(eq(tokens.userId, Number(params.userId)))
    .orderBy(desc(tokens.id))
  return rows.map(toTokenView)
}
