import { fromPglite, PgBoss } from 'pg-boss'
import type { Config } from '../config/loadConfig'
import type { DatabaseHandle } from '../db/openDatabase'
import type { ErrorReporter } from '../errors'

export const QUEUES = { deployToken: 'deploy-token' } as const

/**
 * pg-boss on the same database: embedded PGlite through its adapter, or its own small pool on PostgreSQL.
 * Fast pickup needs LISTEN/NOTIFY on the instance, `notify` on the queue and burst fetching on the worker.
 */
export async function startJobBoss(
  database: DatabaseHandle,
  config: Config,
  onError: ErrorReporter,
): Promise<PgBoss> {
  // A job whose worker died is only expired (and retried) on a supervise pass, which also needs the monitor
  // claim: check a few times per job timeout, never less often than pg-boss's default of 60 s.
  const checkSeconds = Math.max(1, Math.min(60, Math.floor(config.jobTimeoutSeconds / 4)))
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
          ...supervision,
        })
  boss.on('error', (error) => onError(error, 'pg-boss'))
  boss.on('warning', (warning) => onError(new Error(warning.message), 'pg-boss warning'))
  await boss.start()
  const options = {
    retryLimit: config.jobRetryLimit,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 60,
    expireInSeconds: config.jobTimeoutSeconds,
    notify: true,
  }
  for (const name of Object.values(QUEUES)) {
    // createQueue never changes an existing queue: later option changes need updateQueue.
    if (await boss.getQueue(name)) await boss.updateQueue(name, options)
    else await boss.createQueue(name, options)
  }
  return boss
}
