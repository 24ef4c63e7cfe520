// The states of a job, in the order a job moves through them. The wire (`job_status`, `GET /api/jobs/:id`)
// and the database column take their values from here.

export const JobStatusValues = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const
export type JobStatus = (typeof JobStatusValues)[number]

/** A job in one of these states never changes again. */
export const isFinalJobStatus = (status: JobStatus): boolean =>
  status === 'completed' || status === 'failed' || status === 'cancelled'

/** A running job's latest report (docs/protocol.md §5). */
export interface JobProgressReport {
  step: string
  done?: number
  total?: number
  message?: string
}
