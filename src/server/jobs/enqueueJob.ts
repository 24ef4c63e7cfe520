import type { PgBoss } from 'pg-boss'
import { type EventTransaction, transact } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { jobs } from '../db/schema'
import type { SqlRunner } from '../db/sqlRunner'
import { HeraldError, isDatabaseUnavailable } from '../errors'
import { jobStatusEvent } from './setJobStatus'

/** pg-boss's statements on the caller's transaction (its `db` option). */
const inTransaction = (runner: SqlRunner) => ({
  executeSql: async (text: string, values: unknown[] = []) => ({ rows: await runner.query(text, values) }),
})

/**
 * Records a job for its owner, queues it and tells the owner it is pending, all in one transaction: a job is
 * either recorded and queued or not there at all, whatever fails or dies in between. `within` runs last in
 * the same transaction (an idempotent request's answer, which then commits with the job it names).
 */
export async function enqueueJob(
  db: Database,
  boss: PgBoss,
  bus: Bus,
  params: {
    userId: string
    queue: string
    type: string
    data: Record<string, unknown>
    within?: (transaction: EventTransaction, queued: { jobId: string }) => Promise<void>
  },
): Promise<{ jobId: string }> {
  try {
    return await transact(db, bus, async (t) => {
      const [row] = await t.tx
        .insert(jobs)
        .values({ userId: Number(params.userId), type: params.type, data: params.data })
        .returning({ id: jobs.id })
      const jobId = row!.id
      // "pending" goes out with the commit, before any worker can see the job (with it on the PostgreSQL
      // bus, right after it on the others, while a worker is still fetching): it never trails "running".
      await t.publish(jobStatusEvent({ jobId, userId: params.userId, type: params.type, status: 'pending' }))
      // pg-boss knows the queue already (startJobBoss creates it, which caches it), so the send is one
      // statement on this transaction; on PGlite, a lookup on its own connection would wait for this one.
      await boss.send(params.queue, { jobId }, { db: inTransaction(t.runner) })
      const queued = { jobId: String(jobId) }
      await params.within?.(t, queued)
      return queued
    })
  } catch (error) {
    if (error instanceof HeraldError || isDatabaseUnavailable(error)) throw error
    throw new HeraldError('SERVICE_UNAVAILABLE', 'The job queue is unavailable; try again shortly.', {
      cause: error,
    })
  }
}
