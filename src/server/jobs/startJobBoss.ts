import { fromPglite, PgBoss } from 'pg-boss'
import type { Config } from '../config/loadConfig'
import type { DatabaseHandle } from '../db/openDatabase'
import type { ErrorReporter } from '../errors'
import type { JobRegistry } from './jobRegistry'

export const QUEUES = {
  deployToken: 'deploy-token',
  deployTokenDead: 'deploy-token-dead',
  /** One job per notification to push to an away user (src/server/push/startPushWorkers.ts). */
  webPush: 'web-push',
} as const

/**
 * pg-boss on the same database: embedded PGlite through its adapter, or its own small pool on PostgreSQL.
 * Fast pickup needs LISTEN/NOTIFY on the instance, `notify` on the queue and burst fetching on the worker.
 */
export async function startJobBoss(
  database: DatabaseHandle,
  config: Config,
  registry: JobRegistry,
  onError: ErrorReporter,
): Promise<PgBoss> {
  // A job whose worker died is only expired (and retried) on a supervise pass, which also needs the monitor
  // claim: check a few times per (shortest) job timeout, never less often than pg-boss's default of 60 s.
  const shortest = Math.min(config.jobTimeoutSeconds, ...registry.all().map((job) => job.timeoutSeconds))
  const checkSeconds = Math.max(1, Math.min(60, Math.floor(shortest / 4)))
  const supervision = { superviseIntervalSeconds: checkSeconds, monitorIntervalSeconds: checkSeconds }
  const boss =
    database.kind === 'pglite'
      ? new PgBoss({
          db: fromPglite(database.pglite!),
          backend: 'pglite',
          useListenNotify: true,
          ...supervision,
        })
      : new PgBoss({
          connectionString: database.url!,
          max: 4,
          useListenNotify: true,
          application_name: 'herald-jobs',
          // Like the main pool: an unreachable database fails a send (503) instead of hanging it.
          connectionTimeoutMillis: 5000,
          ...supervision,
        })
  boss.on('error', (error) => onError(error, 'pg-boss'))
  boss.on('warning', (warning) => onError(new Error(warning.message), 'pg-boss warning'))
  await boss.start()
  const options = { retryDelay: 1, retryBackoff: true, retryDelayMax: 60, notify: true }
  // A job pg-boss fails for good without Herald's handler saying so (its last attempt expired, or its worker
  // died or was stopped mid-attempt) lands on the dead-letter queue, whose worker marks it failed visibly;
  // otherwise the owner would see "running" for ever. The dead-letter queue has no dead letter of its own.
  const queues = [
    ...registry.all().flatMap((job) => {
      const own = { ...options, retryLimit: job.retries, expireInSeconds: job.timeoutSeconds }
      return [
        [job.deadQueue, { ...own, retryLimit: 10 }],
        [job.queue, { ...own, deadLetter: job.deadQueue }],
      ] as const
    }),
    // A push job's own retries are for a worker that died or a database error: the push service's 5xx and
    // 429 are retried inside the job, per subscription, and a retried job never sends a claimed pair again.
    [QUEUES.webPush, { ...options, retryLimit: 3, expireInSeconds: 300 }] as const,
  ]
  for (const [name, queueOptions] of queues) {
    // createQueue never changes an existing queue: later option changes need updateQueue.
    if (await boss.getQueue(name)) await boss.updateQueue(name, queueOptions)
    else await boss.createQueue(name, queueOptions)
  }
  return boss
}
