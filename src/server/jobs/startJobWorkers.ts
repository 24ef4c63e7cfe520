import type { JobWithMetadata, PgBoss } from 'pg-boss'
import type { Bus } from '../bus/types'
import type { ChainContext } from '../chain/connectChain'
import type { Database } from '../db/openDatabase'
import { describeError, type ErrorReporter } from '../errors'
import type { NotificationStore } from '../notifications/createNotificationStore'
import { type DeployTokenDeps, deployToken, failDeployToken } from './deployToken'
import { JobFailure } from './JobFailure'
import { QUEUES } from './startJobBoss'

export interface JobWorkerDeps {
  db: Database
  bus: Bus
  notifications: NotificationStore
  boss: PgBoss
  chain: ChainContext
  concurrency: number
  timeoutSeconds: number
  onTokenCreated?: DeployTokenDeps['onTokenCreated']
  onError: ErrorReporter
}

/**
 * Runs queued jobs. A JobFailure fails the job at once; any other error hands it back to pg-boss, which
 * retries with backoff, and the last attempt's error fails it visibly. Resolves once the workers poll.
 */
export async function startJobWorkers(deps: JobWorkerDeps): Promise<{ stop(): Promise<void> }> {
  const { boss } = deps
  // The receipt wait ends before pg-boss would expire the job, so a slow chain is a clean retry.
  const receiptTimeoutMs = Math.max(1000, (deps.timeoutSeconds - 5) * 1000)
  // Fast pickup needs LISTEN/NOTIFY (instance), notify (queue) and burst fetching, which only works with
  // batches of more than one; each job of a batch still settles on its own.
  await boss.work<{ jobId: number }>(
    QUEUES.deployToken,
    {
      batchSize: 2,
      localConcurrency: Math.max(1, Math.ceil(deps.concurrency / 2)),
      includeMetadata: true,
      perJobResults: true,
      burstWhenBatchFull: true,
      pollingIntervalSeconds: 2,
      notifyPollingIntervalSeconds: 10,
    },
    async (batch) =>
      Promise.all(
        batch.map(async (job) => {
          const settled = await runAttempt(deps, job as JobWithMetadata<{ jobId: number }>, () =>
            deployToken(
              {
                db: deps.db,
                bus: deps.bus,
                notifications: deps.notifications,
                chain: deps.chain,
                receiptTimeoutMs,
                onTokenCreated: deps.onTokenCreated,
                onLateReceipt: (message) =>
                  deps.onError(new Error(message), 'a deployment after its job ended'),
              },
              job.data.jobId,
            ),
          )
          return { id: job.id, status: settled ? ('completed' as const) : ('failed' as const) }
        }),
      ),
  )
  // pg-boss moves a job here when it failed for good without the handler recording why (the last attempt
  // expired, or its process died or was stopped during it): the owner must still see it fail. pg-boss's
  // fail statement inserts the dead-letter copy without a NOTIFY, so on a notify queue only the backstop
  // poll finds it: at the 30 s default, the owner would wait that long to see the failure.
  await boss.work<{ jobId: number }>(
    QUEUES.deployTokenDead,
    { batchSize: 1, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 2 },
    async ([job]) => {
      await failDeployToken(deps, job!.data.jobId, ABANDONED)
    },
  )
  let stopped: Promise<void> | null = null
  return {
    /**
     * Stops fetching new jobs and resolves at once: waiting for (and handing back) running ones is
     * pg-boss's graceful stop, which bounds it by the shutdown timeout.
     */
    stop() {
      stopped ??= Promise.all(
        [QUEUES.deployToken, QUEUES.deployTokenDead].map((queue) => boss.offWork(queue, { wait: false })),
      ).then(
        () => {},
        (error) => deps.onError(error, 'stopping job workers'),
      )
      return stopped
    },
  }
}

export const ABANDONED =
  'The deployment did not finish: its last attempt timed out or its worker stopped, and no retries are left.'

/** True when the job is settled (done, or failed for good); false hands it back to pg-boss for a retry. */
async function runAttempt(
  deps: JobWorkerDeps,
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
      await failDeployToken(deps, job.data.jobId, describeError(error))
      return true
    } catch (failure) {
      deps.onError(failure, `recording the failure of job ${job.data.jobId}`)
      return false
    }
  }
}
