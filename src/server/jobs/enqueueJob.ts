import { eq } from 'drizzle-orm'
import type { PgBoss } from 'pg-boss'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { jobs } from '../db/schema'
import { HeraldError } from '../errors'

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
  try {
    await boss.send(params.queue, { jobId })
  } catch (error) {
    await db
      .update(jobs)
      .set({ status: 'failed', error: 'The job could not be queued.' })
      .where(eq(jobs.id, jobId))
    throw new HeraldError('SERVICE_UNAVAILABLE', 'The job queue is unavailable; try again shortly.', {
      cause: error,
    })
  }
  await bus.publish({
    kind: 'user',
    userId: params.userId,
    message: { type: 'job_status', jobId: String(jobId), status: 'pending', data: { type: params.type } },
  })
  return { jobId: String(jobId) }
}
