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
import { type ConnectionRegistry, createConnectionRegistry } from '../users/connectionRegistry'
import type { createShutdownList } from './shutdownList'

/**
 * Web Push's parts, registered with the shutdown list: the queue's workers (instances that run workers) and
 * the rows of who is connected here (instances that hold sockets), which tell a worker anywhere who is away.
 * The workers are null when Web Push is off (no VAPID keys); the rows are kept on every instance that holds
 * sockets, since getUserConnectionCount reads them too.
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
    runsApi: boolean
    shutdown: Pick<ReturnType<typeof createShutdownList>, 'add'>
    onError: ErrorReporter
  },
): Promise<{ workers: PushWorkers | null; registry: ConnectionRegistry | null }> {
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
  // Kept whether or not Web Push is on: the library's getUserConnectionCount reads the same rows.
  const registry = instance.runsApi
    ? createConnectionRegistry({ runner, clock, ttlSeconds: config.presenceTtlSeconds, onError })
    : null
  registry?.start()
  shutdown.add('Web Push connection rows', () => registry?.stop())
  return { workers, registry }
}
