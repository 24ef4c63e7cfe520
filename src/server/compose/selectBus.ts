import { createInProcessBus } from '../bus/createInProcessBus'
import { createPostgresBus } from '../bus/createPostgresBus'
import { createRedisBus } from '../bus/createRedisBus'
import type { Bus } from '../bus/types'
import type { Config } from '../config/loadConfig'
import type { DatabaseHandle } from '../db/openDatabase'
import { ConfigError, type ErrorReporter } from '../errors'

/**
 * One process: the in-process bus. On PostgreSQL, LISTEN/NOTIFY by default, so servers and workers in other
 * processes reach each other's connections; Redis when NOTIFY throughput is the limit.
 */
export function selectBus(
  config: Config,
  database: DatabaseHandle,
  onError: ErrorReporter,
  /** Each message a Redis bus receives (herald_bus_messages_received_total). */
  onReceived?: () => void,
): Bus {
  const kind = config.bus === 'auto' ? (database.kind === 'postgres' ? 'postgres' : 'memory') : config.bus
  if (kind === 'postgres' && database.kind !== 'postgres')
    throw new ConfigError(
      'BUS=postgres needs DATABASE_URL (the embedded database has no LISTEN/NOTIFY across processes).',
    )
  if (kind === 'postgres') return createPostgresBus({ url: database.url!, db: database.db, onError })
  if (kind === 'redis')
    return createRedisBus({
      url: config.redisUrl!,
      channel: config.redisChannel,
      sharded: config.redisShardedPubsub,
      onReceived,
      onError,
    })
  return createInProcessBus(onError)
}
