import { and, eq, sql } from 'drizzle-orm'
import { isFinalJobStatus } from '../../shared/protocol/jobStatus'
import { transact } from '../bus/transact'
import { jobs } from '../db/schema'
import { JobCancelled } from './defineJob'
import { createJobContext, type JobContextDeps } from './jobContext'
import type { RegisteredJob } from './jobRegistry'
import { jobStatusEvent } from './setJobStatus'

export interface RunJobDeps extends JobContextDeps {
  /** How often a running job looks for its cancellation (any instance may have asked for it). */
  cancelPollMs: number
  /** Told when a job's run ends after the job already ended (failed for good, cancelled): nothing is recorded. */
  onLate(message: string): void
}

/** Why an attempt's signal was aborted. */
export const CANCELLED = 'cancelled'
export const SHUTDOWN = 'shutdown'

/**
 * One attempt of one job: marks it running, runs its definition with a ctx, and records how it ended, once.
 * Resolves when the job is settled (completed or cancelled); rejects with the run's error otherwise, which
 * the worker turns into a retry or a failure. `shutdown` aborts ctx.signal when this process stops.
 */
export async function runJob(
  deps: RunJobDeps,
  registered: RegisteredJob,
  jobId: number,
  attempt: number,
  shutdown: AbortSignal,
): Promise<void> {
  const { db, bus } = deps
  const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId))
  if (!job || isFinalJobStatus(job.status)) return
  const userId = String(job.userId)
  if (job.cancelRequested) {
    await finishCancelled(deps, jobId, null)
    return
  }
  if (job.status === 'pending') {
    const started = await db
      .update(jobs)
      .set({ status: 'running', updatedAt: sql`now()` })
      // Only from pending: a cancellation that committed meanwhile stands.
      .where(and(eq(jobs.id, jobId), eq(jobs.status, 'pending')))
      .returning({ status: jobs.status })
    if (started.length === 0) return
    await bus.announce(jobStatusEvent({ jobId, userId, type: job.type, status: 'running' }))
  }

  const controller = new AbortController()
  const onShutdown = () => controller.abort(SHUTDOWN)
  if (shutdown.aborted) onShutdown()
  else shutdown.addEventListener('abort', onShutdown, { once: true })
  // Cancellation is a flag on the job's row, so whichever instance took the request, the worker sees it here.
  const watch = setInterval(() => {
    db.select({ cancel: jobs.cancelRequested, status: jobs.status })
      .from(jobs)
      .where(eq(jobs.id, jobId))
      .then(([row]) => {
        if (row?.cancel || (row && isFinalJobStatus(row.status))) controller.abort(CANCELLED)
      })
      .catch(() => {})
  }, deps.cancelPollMs)

  const ctx = createJobContext(deps, { jobId, userId, type: job.type, attempt }, controller.signal)
  try {
    let value: unknown
    try {
      value = await registered.definition.run(job.data, ctx)
    } catch (error) {
      await ctx.idle()
      if (
        error instanceof JobCancelled ||
        controller.signal.reason === CANCELLED ||
        (await cancelRequested(deps, jobId))
      ) {
        if (controller.signal.reason === SHUTDOWN && !(error instanceof JobCancelled)) throw error
        await finishCancelled(deps, jobId, error instanceof JobCancelled ? error.result : null)
        return
      }
      throw error
    }
    await ctx.idle()
    await finishCompleted(deps, registered, jobId, value)
  } finally {
    clearInterval(watch)
    shutdown.removeEventListener('abort', onShutdown)
  }
}

async function cancelRequested(deps: RunJobDeps, jobId: number): Promise<boolean> {
  const [row] = await deps.db.select({ cancel: jobs.cancelRequested }).from(jobs).where(eq(jobs.id, jobId))
  return row?.cancel === true
}

async function finishCompleted(deps: RunJobDeps, registered: RegisteredJob, jobId: number, value: unknown) {
  await transact(deps.db, deps.bus, async (transaction) => {
    const { tx } = transaction
    // pg-boss may have given up on this attempt meanwhile (it expired, and with no retries left the
    // dead-letter worker failed the job), or the job was cancelled: a job ends once, so a late end says nothing.
    const [current] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).for('update')
    if (current?.status !== 'running') {
      deps.onLate(
        `job ${jobId} (${registered.definition.name}) is ${current?.status ?? 'gone'}; its run ended late`,
      )
      return
    }
    const userId = String(current.userId)
    const stored = registered.definition.complete
      ? await registered.definition.complete(transaction, value, { jobId: String(jobId), userId })
      : value
    const result = JSON.parse(JSON.stringify(stored ?? null))
    await tx
      .update(jobs)
      .set({ status: 'completed', result, updatedAt: sql`now()` })
      .where(eq(jobs.id, jobId))
    await transaction.publish(
      jobStatusEvent({ jobId, userId, type: current.type, status: 'completed', result }),
    )
  })
}

/** Ends a job `cancelled` (with what it did before, if anything), once. */
export async function finishCancelled(deps: Pick<RunJobDeps, 'db' | 'bus'>, jobId: number, value: unknown) {
  await transact(deps.db, deps.bus, async (transaction) => {
    const { tx } = transaction
    const [current] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).for('update')
    if (!current || isFinalJobStatus(current.status)) return
    const result = value === null || value === undefined ? null : JSON.parse(JSON.stringify(value))
    await tx
      .update(jobs)
      .set({ status: 'cancelled', result, cancelRequested: true, updatedAt: sql`now()` })
      .where(eq(jobs.id, jobId))
    await transaction.publish(
      jobStatusEvent({
        jobId,
        userId: String(current.userId),
        type: current.type,
        status: 'cancelled',
        ...(result === null ? {} : { result }),
      }),
    )
  })
}

/** Marks the job failed for good and lets its definition say why (a notification), once. */
export async function failJob(
  deps: Pick<RunJobDeps, 'db' | 'bus'>,
  registered: RegisteredJob | undefined,
  jobId: number,
  reason: string,
) {
  await transact(deps.db, deps.bus, async (transaction) => {
    const { tx } = transaction
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).for('update')
    if (!job || isFinalJobStatus(job.status)) return
    const userId = String(job.userId)
    await registered?.definition.fail?.(transaction, reason, {
      jobId: String(jobId),
      userId,
      input: job.data,
    })
    await tx
      .update(jobs)
      .set({ status: 'failed', error: reason, updatedAt: sql`now()` })
      .where(eq(jobs.id, jobId))
    await transaction.publish(
      jobStatusEvent({ jobId, userId, type: job.type, status: 'failed', error: reason }),
    )
  })
}
