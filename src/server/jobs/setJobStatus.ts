import { eq, sql } from 'drizzle-orm'
import type { JobProgressReport, JobStatus } from '../../shared/protocol'
import type { Bus } from '../bus/types'
import type { Queryable } from '../db/openDatabase'
import { jobs } from '../db/schema'

/** Moves a job to a status and tells its owner; `announce` false leaves the push to the caller. */
export async function setJobStatus(
  db: Queryable,
  bus: Bus | null,
  params: {
    jobId: number
    userId: string
    type: string
    status: JobStatus
    result?: unknown
    error?: string
  },
): Promise<void> {
  await db
    .update(jobs)
    .set({
      status: params.status,
      result: params.result ?? null,
      error: params.error ?? null,
      updatedAt: sql`now()`,
    })
    .where(eq(jobs.id, params.jobId))
  if (bus) await bus.announce(jobStatusEvent(params))
}

export function jobStatusEvent(params: {
  jobId: number
  userId: string
  type: string
  status: JobStatus
  result?: unknown
  error?: string
  progress?: JobProgressReport
}) {
  const data: Record<string, unknown> = { type: params.type }
  if (params.result !== undefined) data.result = params.result
  if (params.error !== undefined) data.error = params.error
  return {
    kind: 'user' as const,
    userId: params.userId,
    message: {
      type: 'job_status' as const,
      jobId: String(params.jobId),
      status: params.status,
      ...(params.progress ? { progress: params.progress } : {}),
      data,
    },
  }
}
