import type { JobWithMetadata, PgBoss } from 'pg-boss'
import { describeError, type ErrorReporter } from '../errors'
import { JobFailure } from './JobFailure'
import type { JobRegistry, RegisteredJob } from './jobRegistry'
import { failJob, type RunJobDeps, runJob } from './runJob'

export interface JobWorkerDeps extends Omit<RunJobDeps, 'receiptTimeoutMs' | 'onLate'> {
  boss: PgBoss
  registry: JobRegistry
  concurrency: number
  onError: ErrorReporter
}

/**
 * Runs queued jobs of every registered type. A JobFailure fails the job at once; any other error hands it
 * back to pg-boss, which retries with backoff, and the last attempt's error fails it visibly. Resolves once
 * the workers poll.
 */
export async function startJobWorkers(deps: JobWorkerDeps): Promise<{ stop(): Promise<void> }> {
  const { boss } = deps
  const shutdown = new AbortController()
  const queues: string[] = []
  for (const registered of deps.registry.all()) {
    const runDeps: RunJobDeps = {
      ...deps,
      // The receipt wait ends before pg-boss would expire the job, so a slow chain is a clean retry.
      receiptTimeoutMs: Math.max(1000, (registered.timeoutSeconds - 5) * 1000),
      onLate: (message) => deps.onError(new Error(message), 'a job that ended after its job ended'),
    }
    // One job per fetch and JOB_CONCURRENCY workers, each a work() call of its own so its handler knows
    // its worker id. Batches of 2 on half as many workers halved the concurrency when jobs arrive one at a
    // time (each worker took one and was held until its batch settled). Fast pickup needs LISTEN/NOTIFY
    // (instance) and notify (queue): a send wakes the idle workers and flags the busy ones, which fetch again
    // as they finish. A backlog needs more: pg-boss's burst fetching (burstWhenBatchFull) only works with
    // batches of more than one, so each worker flags itself as its job settles and fetches again at once
    // (the price is one empty fetch per job once the queue is drained), rather than at the 10 s backstop.
    for (let slot = 0; slot < Math.max(1, deps.concurrency); slot++) {
      const worker = Promise.withResolvers<string>()
      const workerId = await boss.work<{ jobId: number }>(
        registered.queue,
        {
          batchSize: 1,
          includeMetadata: true,
          perJobResults: true,
          pollingIntervalSeconds: 2,
          notifyPollingIntervalSeconds: 10,
        },
        async ([job]) => {
          try {
            const settled = await runAttempt(
              deps,
              registered,
              job as JobWithMetadata<{ jobId: number }>,
              () => runJob(runDeps, registered, job!.data.jobId, job!.retryCount + 1, shutdown.signal),
            )
            return [{ id: job!.id, status: settled ? ('completed' as const) : ('failed' as const) }]
          } finally {
            // Known once work() returns, which never waits for a handler (a first fetch can beat it).
            boss.notifyWorker(await worker.promise)
          }
        },
      )
      worker.resolve(workerId)
    }
    // pg-boss moves a job here when it failed for good without the handler recording why (the last attempt
    // expired, or its process died or was stopped during it): the owner must still see it fail. pg-boss's
    // fail statement inserts the dead-letter copy without a NOTIFY, so on a notify queue only the backstop
    // poll finds it: at the 30 s default, the owner would wait that long to see the failure.
    await boss.work<{ jobId: number }>(
      registered.deadQueue,
      { batchSize: 1, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 2 },
      async ([job]) => {
        await failJob(deps, registered, job!.data.jobId, abandoned(registered))
      },
    )
    queues.push(registered.queue, registered.deadQueue)
  }
  let stopped: Promise<void> | null = null
  return {
    /**
     * Stops fetching new jobs and resolves at once, and aborts the running jobs' ctx.signal: waiting for (and
     * handing back) running ones is pg-boss's graceful stop, which bounds it by the shutdown timeout.
     */
    stop() {
      stopped ??= Promise.all(queues.map((queue) => boss.offWork(queue, { wait: false }))).then(
        () => shutdown.abort('shutdown'),
        (error) => {
          shutdown.abort('shutdown')
          deps.onError(error, 'stopping job workers')
        },
      )
      return stopped
    },
  }
}

export const ABANDONED =
  'The deployment did not finish: its last attempt timed out or its worker stopped, and no retries are left.'

const abandoned = (registered: RegisteredJob) =>
  registered.definition.name === 'deploy_token'
    ? ABANDONED
    : 'The job did not finish: its last attempt timed out or its worker stopped, and no retries are left.'

/** True when the job is settled (done, or failed for good); false hands it back to pg-boss for a retry. */
async function runAttempt(
  deps: JobWorkerDeps,
  registered: RegisteredJob,
  job: JobWithMetadata<{ jobId: number }>,
  run: () => Promise<void>,
): Promise<boolean> {
  try {
    await run()
    return true
  } catch (error) {
    const final = error instanceof JobFailure || job.retryCount >= job.retryLimit
    deps.onError(error, `job ${job.data.jobId} attempt ${job.retryCount + 1}${final ? ' (final)' : ''}`)
    if (!final) return false
    try {
      await failJob(deps, registered, job.data.jobId, describeError(error))
      return true
    } catch (failure) {
      deps.onError(failure, `recording the failure of job ${job.data.jobId}`)
      return false
    }
  }
}
