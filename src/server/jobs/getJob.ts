import { and, eq } from 'drizzle-orm'
import type { Queryable } from '../db/openDatabase'
import { jobs } from '../db/schema'
import { HeraldError } from '../errors'
import { type JobView, toJob } from './toJob'

/** The caller's own job; anyone else's answers the same 404 as a missing one. */
export async function getJob(db: Queryable, params: { userId: string; id: string }): Promise<JobView> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, Number(params.id)), eq(jobs.userId, Number(params.userId))))
  if (!row) throw new HeraldError('NOT_FOUND', `Job ${params.id} not found.`)
  return toJob(row)
}
