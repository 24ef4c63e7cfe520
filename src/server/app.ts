import type { PgBoss } from 'pg-boss'
import type { BroadcastMessage, ServerMessage } from '../shared/protocol'
import type { Bus, BusEvent } from './bus/types'
import type { ChainContext } from './chain/connectChain'
import type { TransferWatcher } from './chain/startTransferWatcher'
import type { ChannelRetention } from './channels/channelRetention'
import type { ChannelStore } from './channels/createChannelStore'
import type { Presence } from './channels/createPresence'
import { announceHolderCheck } from './channels/holderCheck'
import { openHerald, type StartOptions } from './compose/openHerald'
import type { Config } from './config/loadConfig'
import type { DatabaseHandle } from './db/openDatabase'
import type { JobService } from './jobs/createJobService'
import type { PushWorkers } from './push/startPushWorkers'
import type { ConnectionRegistry } from './users/connectionRegistry'

export type { StartOptions } from './compose/openHerald'

/** A running Herald: its address, its public surface, and explicit hooks for tests. */
export interface HeraldServer {
  url: string
  port: number
  config: Config
  /** Pushes a message (not stored) to every connection of a user, on every instance. */
  sendToUser(userId: string, message: ServerMessage): Promise<void>
  /** Pushes a message, as it is, to every open connection on every instance. */
  sendToAll(message: BroadcastMessage): Promise<void>
  /** The user's connections on this instance. */
  getUserConnectionCount(userId: string): number
  /** Stores a publication on a channel and pushes it to its subscribers on every instance, like the admin route. */
  publish(channel: string, data: unknown): ReturnType<ChannelStore['publish']>
  /**
   * Channel publications, also inside a caller's transaction (`publishIn`: the transfer watcher's token feed),
   * and the holders' re-check a balance change calls for (`holderBalanceChanged`: on every instance, the
   * `holders:<token>` subscriptions of that address are checked against the chain at once).
   */
  readonly channels: {
    store: ChannelStore
    holderBalanceChanged(token: string, address: string): Promise<void>
  }
  /** Starts, lists and cancels jobs, as the routes of docs/protocol.md §5 do (`start` with `byUser: false`). */
  readonly jobs: JobService
  /** Open WebSocket connections on this instance. */
  readonly connectionCount: number
  /** Users with at least one authenticated connection on this instance. */
  readonly authenticatedUserCount: number
  stop(): Promise<void>
  /** For tests: the parts they drive directly (a bus event as another instance would send it, a job, a pass). */
  readonly testHooks: {
    database: DatabaseHandle
    announce(event: BusEvent): Promise<void>
    bus: Bus
    boss: PgBoss | null
    watcher: TransferWatcher | null
    chain: ChainContext | null
    presence: Presence
    channelRetention: ChannelRetention
    /** Web Push: the queue's workers (null when push is off or this instance runs none) and the connection rows. */
    push: { workers: PushWorkers | null; registry: ConnectionRegistry | null }
  }
}

/**
 * Herald on its own port (`npm start`, and the tests): the composition root's HTTP app listening on HOST:PORT.
 * `createHerald` (./index.ts) serves the same app behind a plugin in the host's Elysia app instead.
 */
export async function startHerald(loaded: Config, options: StartOptions = {}): Promise<HeraldServer> {
  const core = await openHerald(loaded, options)
  const { config, app, hub, bus, log } = core
  try {
    app.listen({ hostname: config.host, port: config.port })
  } catch (error) {
    await core.stop()
    throw error
  }
  // The port closes before the parts behind it stop, so nothing new arrives meanwhile.
  core.onStop('HTTP server', () => app.stop(true))
  const server = app.server!
  core.attach(server)
  const port = server.port!
  const url = `http://${config.host}:${port}`
  log.info('herald listening', { url, database: core.database.kind, bus: bus.kind })

  return {
    url,
    port,
    config,
    sendToUser: (userId, message) => hub.sendToUser(userId, message),
    sendToAll: (message) => hub.sendToAll(message),
    getUserConnectionCount: (userId) => hub.getUserConnectionCount(userId),
    publish: (channel, data) => core.channelStore.publish(channel, data),
    channels: {
      store: core.channelStore,
      holderBalanceChanged: (token, address) => announceHolderCheck(bus, token, address),
    },
    jobs: core.jobs,
    get connectionCount() {
      return hub.connectionCount
    },
    get authenticatedUserCount() {
      return hub.authenticatedUserCount
    },
    async stop() {
      await core.stop()
      log.info('herald stopped')
    },
    testHooks: {
      database: core.database,
      announce: (event) => bus.announce(event),
      bus,
      boss: core.boss,
      watcher: core.watcher,
      chain: core.chain,
      presence: core.presence,
      channelRetention: core.channelRetention,
      push: core.push,
    },
  }
}
