import type { PgBoss } from 'pg-boss'
import type { Bus } from '../bus/types'
import type { Config } from '../config/loadConfig'
import type { Database } from '../db/openDatabase'
import { sqlRunner } from '../db/sqlRunner'
import type { ErrorReporter } from '../errors'
import type { Metrics } from '../metrics/createMetrics'
import type { PushFetch } from '../push/sendPush'
import { type PushWorkers, startPushWorkers } from '../push/startPushWorkers'
import type { VapidKeys } from '../push/vapidKeys'
import type { Clock } from '../time/clock'
import type { createShutdownList } from './shutdownList'

/**
 * Web Push's queue workers, registered with the shutdown list: null when Web Push is off (no VAPID keys) or the
 * instance runs no workers. Who is away is read from the `user_connections` rows the composition root keeps
 * (users/connectionRegistry.ts).
 */
export async function startWebPush(
  params: {
    vapid: VapidKeys | null
    db: Database
    bus: Bus
    boss: PgBoss | null
    config: Config
    clock: Clock
    metrics: Metrics
    fetch: PushFetch | undefined
  },
  instance: {
    runsWorkers: boolean
    shutdown: Pick<ReturnType<typeof createShutdownList>, 'add'>
    onError: ErrorReporter
  },
): Promise<PushWorkers | null> {
  const { vapid, boss, config, clock } = params
  const { shutdown, onError } = instance
  const runner = sqlRunner(params.db)
  const workers =
    vapid && boss && instance.runsWorkers
      ? await startPushWorkers({
          runner,
          bus: params.bus,
          boss,
          vapid,
          fetch: params.fetch ?? ((url, init) => fetch(url, init)),
          clock,
          allowedHosts: config.pushEndpointHosts,
          retryDelayMs: config.pushRetryDelayMs,
          presenceTtlSeconds: config.presenceTtlSeconds,
          concurrency: config.jobConcurrency,
          onOutcome: (outcome) => params.metrics.webPushes.inc({ outcome }),
          onError,
        })
      : null
  shutdown.add('Web Push workers', () => workers?.stop())
  return workers
}
