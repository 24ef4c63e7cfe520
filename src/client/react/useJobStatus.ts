import { useEffect, useState } from 'react'
import { isFinalJobStatus, type JobProgressReport } from '../../shared/protocol/jobStatus'
import type { Job, JobStatus } from '../sdk'
import { useHeraldClient } from './useHeraldClient'

export interface UseJobStatusResult {
  /** null until the job's first status is known (or without a job id). */
  status: JobStatus | null
  /** The latest `job_status` data (`{type, result?, error?}`), or null before one arrived. */
  data: unknown
  /** The job's result once completed (for deploy_token: `{tokenId, address, txHash, blockNumber}`). */
  result: unknown
  /** Why the job failed, when it did. */
  error: string | null
  /** The latest progress the job reported (`{step, done?, total?, message?}`), or null. */
  progress: JobProgressReport | null
  /** The job as GET /api/jobs/:id returned it (its `data` is the request). */
  job: Job | null
  loading: boolean
  /** The GET failed (404 for someone else's job, say); live updates still apply. */
  fetchError: string | null
}

const RANK: Record<JobStatus, number> = { pending: 0, running: 1, completed: 2, failed: 2, cancelled: 2 }

interface State extends UseJobStatusResult {
  jobId: string | null
}

const empty = (jobId: string | null): State => ({
  jobId,
  status: null,
  data: null,
  result: null,
  error: null,
  progress: null,
  job: null,
  loading: jobId !== null,
  fetchError: null,
})

/**
 * The latest status of one job: GET /api/jobs/:id once, then every live `job_status`. Status only moves
 * forward (pending → running → completed | failed), so a late HTTP answer never undoes a live update. After a
 * reconnection an unfinished job is fetched again (job_status is not replayed).
 */
export function useJobStatus(jobId: string | null | undefined): UseJobStatusResult {
  const client = useHeraldClient()
  const id = jobId ?? null
  const [state, setState] = useState<State>(() => empty(id))
  if (state.jobId !== id) setState(empty(id))

  useEffect(() => {
    if (id === null) return
    let active = true
    let final = false
    const apply = (status: JobStatus) => {
      if (isFinalJobStatus(status)) final = true
    }
    const off = client.on('job_status', (message) => {
      if (message.jobId !== id) return
      apply(message.status)
      const data = (message.data ?? null) as { result?: unknown; error?: string } | null
      setState((s) =>
        s.jobId !== id || (s.status !== null && RANK[message.status] < RANK[s.status])
          ? s
          : {
              ...s,
              status: message.status,
              data,
              result: data?.result ?? s.result,
              error: typeof data?.error === 'string' ? data.error : s.error,
              progress: message.progress ?? s.progress,
            },
      )
    })
    const fetchJob = () =>
      client.api.jobs.get(id).then(
        (job) => {
          if (!active) return
          apply(job.status)
          setState((s) => {
            if (s.jobId !== id) return s
            const newer = s.status === null || RANK[job.status] > RANK[s.status]
            return {
              ...s,
              job,
              loading: false,
              fetchError: null,
              status: newer ? job.status : s.status,
              result: s.result ?? job.result,
              error: s.error ?? job.error,
              progress: s.progress ?? job.progress,
            }
          })
        },
        (error: unknown) => {
          if (!active) return
          const message = error instanceof Error ? error.message : String(error)
          setState((s) => (s.jobId === id ? { ...s, loading: false, fetchError: message } : s))
        },
      )
    // job_status is not replayed: after a reconnection, ask again unless the job is already over.
    const offResumed = client.on('resumed', () => {
      if (!final) void fetchJob()
    })
    void fetchJob()
    return () => {
      active = false
      off()
      offResumed()
    }
  }, [client, id])

  const { jobId: _, ...result } = state
  return result
}
