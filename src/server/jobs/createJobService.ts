import { and, desc, eq, lt, sql } from 'drizzle-orm'
import type { PgBoss } from 'pg-boss'
import { isFinalJobStatus, type JobStatus, JobStatusValues } from '../../shared/protocol/jobStatus'
import { type EventTransaction, transact } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { jobs } from '../db/schema'
import { HeraldError } from '../errors'
import { enqueueJob } from './enqueueJob'
import { getJob } from './getJob'
import type { JobRegistry } from './jobRegistry'
import { jobStatusEvent } from './setJobStatus'
import { type JobView, toJob } from './toJob'

export interface StartJobParams {
  type: string
  input: unknown
  userId: string
  /** What is stored as the job's data when it is more than the input (the owner's address, say). */
  data?: Record<string, unknown>
  /** True for `POST /api/jobs`: only types marked `userStartable` start. */
  byUser: boolean
  /** Runs in the transaction that records the job (an Idempotency-Key's answer commits with it). */
  within?: (transaction: EventTransaction, job: JobView) => Promise<void>
}

export interface ListJobsQuery {
  status?: string
  type?: string
  before?: string
  limit?: string
}

/** Starting, cancelling and listing jobs (docs/protocol.md §5), for the routes and the library's `jobs`. */
export interface JobService {
  readonly registry: JobRegistry
  start(params: StartJobParams): Promise<{ job: JobView }>
  cancel(params: { userId: string; id: string }): Promise<{ job: JobView }>
  list(params: {
    userId: string
    query: ListJobsQuery
  }): Promise<{ jobs: JobView[]; nextBefore: string | null }>
  get(params: { userId: string; id: string }): Promise<JobView>
}

export function createJobService(deps: {
  db: Database
  bus: Bus
  registry: JobRegistry
  /** Null: no queue runs here (no chain and no app jobs), so nothing can start. */
  boss: PgBoss | null
  hasChain: boolean
}): JobService {
  const { db, bus, registry } = deps
  return {
    registry,
    async start(params) {
      const registered = registry.get(params.type)
      if (!registered || (params.byUser && !registered.definition.userStartable))
        throw new HeraldError(
          'INVALID_INPUT',
          `type: "${String(params.type)}" is not a job type you can start.`,
        )
      registered.validate(params.input)
      if ((registered.definition.requiresChain && !deps.hasChain) || !deps.boss)
        throw new HeraldError(
          'SERVICE_UNAVAILABLE',
          `No chain is configured, so ${params.type} jobs cannot run.`,
        )
      let view: JobView | null = null
      await enqueueJob(db, deps.boss, bus, {
        userId: params.userId,
        queue: registered.queue,
        type: registered.definition.name,
        data: params.data ?? (params.input as Record<string, unknown>),
        within: async (t, queued) => {
          const [row] = await t.tx
            .select()
            .from(jobs)
            .where(eq(jobs.id, Number(queued.jobId)))
          view = toJob(row!)
          await params.within?.(t, view)
        },
      })
      return { job: view! }
    },
    async cancel({ userId, id }) {
      const jobId = parseId(id)
      return transact(db, bus, async (transaction) => {
        const { tx } = transaction
        const [row] = await tx
          .select()
          .from(jobs)
          .where(and(eq(jobs.id, jobId), eq(jobs.userId, Number(userId))))
          .for('update')
        if (!row) throw new HeraldError('NOT_FOUND', `Job ${id} not found.`)
        if (isFinalJobStatus(row.status))
          throw new HeraldError(
            'CONFLICT',
            `Job ${id} is ${row.status} already; only a pending or running job can be cancelled.`,
          )
        // A pending job ends here and never runs (its worker finds it final); a running one is flagged, and
        // its worker aborts ctx.signal and ends it, wherever it runs.
        const status: JobStatus = row.status === 'pending' ? 'cancelled' : row.status
        const [updated] = await tx
          .update(jobs)
          .set({ status, cancelRequested: true, updatedAt: sql`now()` })
          .where(eq(jobs.id, jobId))
          .returning()
        if (status === 'cancelled')
          await transaction.publish(jobStatusEvent({ jobId, userId, type: row.type, status: 'cancelled' }))
        return { job: toJob(updated!) }
      })
    },
    async list({ userId, query }) {
      const limit = query.limit === undefined ? 20 : Number(query.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 100 || !/^\d+$/.test(query.limit ?? '20'))
        throw new HeraldError('INVALID_INPUT', 'limit: a whole number from 1 to 100.')
      if (query.status !== undefined && !(JobStatusValues as readonly string[]).includes(query.status))
        throw new HeraldError('INVALID_INPUT', `status: one of ${JobStatusValues.join(', ')}.`)
      const before = query.before === undefined ? null : parseId(query.before, 'before')
      const conditions = [eq(jobs.userId, Number(userId))]
      if (query.status !== undefined) conditions.push(eq(jobs.status, query.status as JobStatus))
      if (query.type !== undefined) conditions.push(eq(jobs.type, query.type))
      if (before !== null) conditions.push(lt(jobs.id, before))
      const rows = await db
        .select()
        .from(jobs)
        .where(and(...conditions))
        .orderBy(desc(jobs.id))
        .limit(limit + 1)
      const page = rows.slice(0, limit)
      return {
        jobs: page.map(toJob),
        nextBefore: rows.length > limit ? String(page[page.length - 1]!.id) : null,
      }
    },
    get: (params) => getJob(db, params),
  }
}

function parseId(id: string, field = 'id'): number {
  if (!/^\d{1,15}$/.test(id)) {
    if (field === 'id') throw new HeraldError('NOT_FOUND', `Job ${id} not found.`)
    throw new HeraldError('INVALID_INPUT', `${field}: a job id.`)
  }
  return Number(id)
}
