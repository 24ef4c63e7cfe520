import type { PublicClient } from 'viem'
import type { BroadcastMessage } from '../../shared/protocol'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import type { TokenService } from '../auth/createTokenService'
import type { SignInPolicy } from '../auth/verifySignIn'
import type { Bus } from '../bus/types'
import type { ChannelRights } from '../channels/channelRights'
import type { ChannelTokenService } from '../channels/channelTokens'
import type { ChannelStore } from '../channels/createChannelStore'
import type { Presence } from '../channels/createPresence'
import type { Config } from '../config/loadConfig'
import type { Database, DatabaseHandle } from '../db/openDatabase'
import type { Idempotency } from '../http/idempotency'
import type { JobService } from '../jobs/createJobService'
import type { Logger } from '../log/createLogger'
import type { Metrics } from '../metrics/createMetrics'
import type { NotificationStore } from '../notifications/createNotificationStore'

/** What the routes use of the WebSocket hub; app.ts passes the hub itself, so api/ never imports ws/. */
export interface Broadcaster {
  /** Pushes a message, as it is, to every open connection on every instance. */
  sendToAll(message: BroadcastMessage): Promise<void>
  /** Open connections on this instance. */
  readonly connectionCount: number
}

/** What the routes are given by the composition root (src/server/app.ts). */
export interface ApiContext {
  config: Config
  db: Database
  database: DatabaseHandle
  bus: Bus
  hub: Broadcaster
  notifications: NotificationStore
  /** Channels: publications, the namespaces' rights, presence, and subscription tokens (null: not configured). */
  channels: {
    store: ChannelStore
    rights: ChannelRights
    presence: Pick<Presence, 'counts' | 'members' | 'settled'>
    tokens: ChannelTokenService | null
  }
  /** Idempotency-Key for publishing and job-starting routes (docs/protocol.md §6). */
  idempotency: Idempotency
  tokens: TokenService
  metrics: Metrics
  log: Logger
  version: string
  /** The server's clock, in milliseconds since the epoch: rate limits, nonces and tokens (tests pass one they advance by hand). */
  clock: () => number
  authenticate(token: string): Promise<AuthenticatedSession | null>
  /** Resolved once the server listens: the default SIWE domain depends on the port. */
  signInPolicy(): SignInPolicy
  health(): Promise<{ db: 'ok' | 'unavailable'; chain: 'ok' | 'unavailable' }>
  chain(): { chainId: number; rpcUrl: string | null; deployerAddress: string | null }
  /** The chain's client for the reads a route makes (registering a watched contract); null without a chain. */
  chainClient: PublicClient | null
  /** Web Push's VAPID public key (base64url); null when Web Push is off (no keys configured). */
  vapidPublicKey: string | null
  /** Starting, listing and cancelling jobs (docs/protocol.md §5). */
  jobs: JobService
  /** Whether a chain is configured (deployments and airdrops need one). */
  hasChain: boolean
}
