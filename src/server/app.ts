import type { PgBoss } from 'pg-boss'
import type { BroadcastMessage, ServerMessage } from '../shared/protocol'
import type { Bus, BusEvent } from './bus/types'
import type { ChainContext } from './chain/connectChain'
import type { TransferWatcher } from './chain/startTransferWatcher'
import type { ChannelRetention } from './channels/channelRetention'
import type { ChannelStore } from './channels/createChannelStore'
import type { Presence } from './channels/createPresence'
import { announceHolderCheck } from './channels/holderCheck'
import { listenHerald } from './compose/createHerald'
import type { StartOptions } from './compose/openHerald'
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
    push: { workers: PushWorkers | null; registry: ConnectionRegistry }
  }
}

/**
 * Herald on its own port (the tests, the bench): the library's standalone mode (`serveHerald`, what `npm start`
 * runs) on settings already validated, with the hub's own calls and the parts tests drive (`testHooks`).
 */
export async function startHerald(loaded: Config, options: StartOptions = {}): Promise<HeraldServer> {
  const { herald, core } = await listenHerald(loaded, options)
  const { hub, bus } = core
  return {
    url: herald.url,
    port: herald.port,
    config: core.config,
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
    stop: () => herald.stop(),
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
