import { createHash } from 'node:crypto'
import type { PgBoss } from 'pg-boss'
import type { Bus } from '../bus/types'
import type { SqlRunner } from '../db/sqlRunner'
import { QUEUES } from '../jobs/startJobBoss'
import { connectedWhenStored } from '../users/connectionRegistry'
import { type DeliveryState, deliverPush, type PushDeliveryDeps } from './deliverPush'

export interface PushJob {
  userId: string
  seq: number
}

export interface PushWorkers {
  stop(): Promise<void>
  /** For tests: the jobs this instance queued and the outcomes it delivered, as they happen. */
  readonly events: {
    /** A stored notification was considered: queued, or not (its user is connected, or has no subscription). */
    onConsidered?(job: PushJob, decision: 'queued' | 'connected' | 'unsubscribed'): void
    onDelivered?(job: PushJob, outcomes: Map<number, DeliveryState>): void
  }
}

/**
 * Web Push from the queue. Every stored notification reaches every instance as a bus `item` event after its
 * commit; a worker instance then asks whether its user has push subscriptions and had no authenticated socket
 * on any instance when it was stored (user_connections, see users/connectionRegistry.ts); if so, it queues one job. Several worker
 * instances hear the same event: the job's id is derived from (user, seq), so pg-boss stores it once. The job
 * sends it to each subscription (deliverPush), at most once per pair.
 *
 * A notification whose event this instance misses (a broker outage) is not pushed: the push is a courtesy on
 * top of the inbox, which the user sees on return.
 */
export async function startPushWorkers(
  deps: Omit<PushDeliveryDeps, 'runner'> & {
    runner: SqlRunner
    bus: Bus
    boss: PgBoss
    presenceTtlSeconds: number
    concurrency: number
  },
): Promise<PushWorkers> {
  const { boss, runner, onError } = deps
  const events: PushWorkers['events'] = {}
  let stopped = false

  // A claim only matters while its job could still run (4 attempts of at most JOB_TIMEOUT_SECONDS each): rows
  // older than two days are let go, so the table holds about two days of pushes.
  const prune = async () => {
    try {
      await runner.query(`delete from push_deliveries where created_at < now() - interval '2 days'`, [])
    } catch (error) {
      onError(error, 'pruning old Web Push deliveries')
    }
  }
  let cancelPrune: (() => void) | null = null
  const armPrune = () => {
    if (!stopped) cancelPrune = deps.clock.schedule(() => void prune().finally(armPrune), PRUNE_EVERY_MS)
  }
  armPrune()

  // The notifications of one turn of the event loop are weighed in one statement: a batch publish of a
  // thousand is one read here, not a thousand.
  let pending: PushJob[] = []
  const considerPending = async (jobs: PushJob[]) => {
    const rows = await runner.query<{ userId: string; seq: number; subscribed: boolean; connected: boolean }>(
      `select n.user_id::text as "userId", n.seq::int as seq,
              exists (select 1 from push_subscriptions s where s.user_id = n.user_id) as subscribed,
              ${connectedWhenStored('$3')} as connected
       from unnest($1::bigint[], $2::bigint[]) as j(user_id, seq)
       join notifications n on n.user_id = j.user_id and n.seq = j.seq`,
      [jobs.map((job) => job.userId), jobs.map((job) => job.seq), deps.presenceTtlSeconds],
    )
    for (const row of rows) {
      const job = { userId: row.userId, seq: Number(row.seq) }
      if (!row.subscribed || row.connected) {
        events.onConsidered?.(job, row.connected ? 'connected' : 'unsubscribed')
        continue
      }
      try {
        await boss.send(QUEUES.webPush, job, { id: jobId(job) })
        events.onConsidered?.(job, 'queued')
      } catch (error) {
        onError(error, `queueing the Web Push of notification ${job.seq} of user ${job.userId}`)
      }
    }
  }
  const flushPending = () => {
    const jobs = pending
    pending = []
    considerPending(jobs).catch((error) =>
      onError(error, `weighing the Web Push of ${jobs.length} notifications`),
    )
  }

  const unsubscribe = deps.bus.subscribe({
    onEvent(event) {
      if (stopped || event.kind !== 'item' || event.stream !== 'inbox') return
      if (pending.length === 0) setImmediate(flushPending)
      pending.push({ userId: event.key, seq: event.item.seq })
    },
  })

  await boss.work<PushJob>(
    QUEUES.webPush,
    {
      // As the deploy queue: LISTEN/NOTIFY pickup needs burst fetching, which needs batches of more than one.
      batchSize: 4,
      localConcurrency: Math.max(1, deps.concurrency),
      burstWhenBatchFull: true,
      pollingIntervalSeconds: 2,
      notifyPollingIntervalSeconds: 10,
    },
    async (batch) => {
      await Promise.all(
        batch.map(async (job) => {
          const outcomes = await deliverPush(deps, job.data)
          events.onDelivered?.(job.data, outcomes)
        }),
      )
    },
  )

  return {
    events,
    async stop() {
      if (stopped) return
      stopped = true
      cancelPrune?.()
      unsubscribe()
      await boss
        .offWork(QUEUES.webPush, { wait: false })
        .catch((error) => onError(error, 'stopping the Web Push workers'))
    },
  }
}

const PRUNE_EVERY_MS = 3_600_000

/** A UUID from (user, seq): the same notification gets the same job id on every instance. */
function jobId(job: PushJob): string {
  const hex = createHash('sha256').update(`web-push:${job.userId}:${job.seq}`).digest('hex')
  // Shaped as an RFC 9562 version 8 (custom) UUID.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((Number.parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}
