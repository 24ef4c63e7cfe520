import { and, eq, sql } from 'drizzle-orm'
import { transact } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { ChainContext } from '../chain/connectChain'
import { sendRecordedTransaction, waitForRecordedTransaction } from '../chain/sendRecordedTransaction'
import type { Database } from '../db/openDatabase'
import { jobSteps, jobs } from '../db/schema'
import type { NotificationStore } from '../notifications/createNotificationStore'
import type { JobContext, JobProgress } from './defineJob'
import { JobFailure } from './JobFailure'
import { jobStatusEvent } from './setJobStatus'

export interface JobContextDeps {
  db: Database
  bus: Bus
  notifications: NotificationStore
  chain: ChainContext | null
  /** How long `waitForTransaction` waits before handing the attempt back for a retry. */
  receiptTimeoutMs: number
}

/** The ctx of one attempt, plus `idle()`: resolves once every progress update it was given is out. */
export function createJobContext(
  deps: JobContextDeps,
  job: { jobId: number; userId: string; type: string; attempt: number },
  signal: AbortSignal,
): JobContext & { idle(): Promise<void> } {
  const { db, bus } = deps
  let queue: Promise<void> = Promise.resolve()

  const storeProgress = async (progress: JobProgress) => {
    const report = cleanProgress(progress)
    await transact(db, bus, async (transaction) => {
      // Only a running job reports: after its final status (another attempt ended it), nothing goes out.
      const updated = await transaction.tx
        .update(jobs)
        .set({ report, updatedAt: sql`now()` })
        .where(and(eq(jobs.id, job.jobId), eq(jobs.status, 'running')))
        .returning({ id: jobs.id })
      if (updated.length === 0) return
      await transaction.publish(
        jobStatusEvent({
          jobId: job.jobId,
          userId: job.userId,
          type: job.type,
          status: 'running',
          progress: report,
        }),
      )
    })
  }

  const chain = () => {
    if (!deps.chain?.deployer)
      throw new JobFailure('This job sends transactions, and this Herald has no chain or no deployer key.')
    return deps.chain
  }

  return {
    jobId: String(job.jobId),
    userId: job.userId,
    attempt: job.attempt,
    signal,
    progress(progress) {
      // Chained, so updates go out in the order they were made whether or not the job awaits them.
      const sent = queue.then(() => storeProgress(progress))
      queue = sent.catch(() => {})
      return sent
    },
    async notify({ key, ...params }) {
      await transact(db, bus, async (transaction) => {
        const [marked] = await transaction.tx
          .insert(jobSteps)
          .values({ jobId: job.jobId, key: `notify:${key}` })
          .onConflictDoNothing()
          .returning({ key: jobSteps.key })
        // The mark and the notification commit together: either both are there or neither.
        if (marked) await deps.notifications.createIn(transaction, { userId: job.userId, ...params })
      })
    },
    async step<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const stepKey = `step:${key}`
      const done = await findStep(db, job.jobId, stepKey)
      if (done) return done.result as T
      signal.throwIfAborted()
      const value = await fn()
      const stored = JSON.parse(JSON.stringify(value ?? null))
      const [inserted] = await db
        .insert(jobSteps)
        .values({ jobId: job.jobId, key: stepKey, result: stored })
        .onConflictDoNothing()
        .returning({ key: jobSteps.key })
      if (inserted) return value
      // Another attempt of the same job (one pg-boss gave up on) stored it first: its result stands.
      return (await findStep(db, job.jobId, stepKey))!.result as T
    },
    async sendTransaction(request) {
      const sent = await sendRecordedTransaction(db, chain(), {
        jobId: job.jobId,
        key: request.key,
        data: request.data,
        to: request.to,
        value: request.value,
        signal,
      })
      return sent
    },
    async waitForTransaction(sent, options = {}) {
      const context = chain()
      return waitForRecordedTransaction(context, sent, {
        confirmations: options.confirmations ?? context.confirmations,
        timeoutMs: deps.receiptTimeoutMs,
        onConfirmation: options.onConfirmation,
      })
    },
    idle: () => queue,
  }
}

async function findStep(db: Database, jobId: number, key: string) {
  const [row] = await db
    .select({ result: jobSteps.result })
    .from(jobSteps)
    .where(and(eq(jobSteps.jobId, jobId), eq(jobSteps.key, key)))
  return row ?? null
}

function cleanProgress(progress: JobProgress): JobProgress {
  if (typeof progress?.step !== 'string' || progress.step.length === 0)
    throw new TypeError('ctx.progress: `step` must be a non-empty string.')
  const report: JobProgress = { step: progress.step }
  if (Number.isFinite(progress.done)) report.done = progress.done
  if (Number.isFinite(progress.total)) report.total = progress.total
  if (typeof progress.message === 'string') report.message = progress.message
  return report
}
