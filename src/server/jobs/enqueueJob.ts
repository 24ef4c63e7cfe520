import { eq } from 'drizzle-orm'
import type { PgBoss } from 'pg-boss'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { jobs } from '../db/schema'
import { HeraldError } from '../errors'
import { jobStatusEvent } from './setJobStatus'

/** Records a job for its owner, queues it and tells the owner it is pending. */
export async function enqueueJob(
  db: Database,
  boss: PgBoss,
  bus: Bus,
  params: { userId: string; queue: string; type: string; data: Record<string, unknown> },
): Promise<{ jobId: string }> {
  const [row] = await db
    .insert(jobs)
    .values({ userId: Number(params.userId), type: params.type, data: params.data })
    .returning({ id: jobs.id })
  const jobId = row!.id
  const status = { jobId, userId: params.userId, type: params.type }
  try {
    // Announced before it is queued: a worker (in another process too) may start the job at once, and its
    // "running" must not reach the owner ahead of "pending".
    await bus.announce(jobStatusEvent({ ...status, status: 'pending' }))
    await boss.send(params.queue, { jobId })
  } catch (error) {
    const reason = 'The job could not be queued.'
    await db.update(jobs).set({ status: 'failed', error: reason }).where(eq(jobs.id, jobId))
    await bus.announce(jobStatusEvent({ ...status, status: 'failed', error: reason }))
    throw new HeraldError('SERVICE_UNAVAILABLE', 'The job queue is unavailable; try again shortly.', {
      cause: error,
    })
  }
  return { jobId: String(jobId) }
}
