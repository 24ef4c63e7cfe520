import type { PgBoss } from 'pg-boss'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import type { TokenService } from '../auth/createTokenService'
import type { SignInPolicy } from '../auth/verifySignIn'
import type { Bus } from '../bus/types'
import type { Config } from '../config/loadConfig'
import type { Database, DatabaseHandle } from '../db/openDatabase'
import type { Metrics } from '../metrics/createMetrics'
import type { SocketManager } from '../ws/SocketManager'
import type { Logger } from './errorHandler'

/** What the routes are given by the composition root (src/server/app.ts). */
export interface ApiContext {
  config: Config
  db: Database
  database: DatabaseHandle
  bus: Bus
  hub: SocketManager
  tokens: TokenService
  metrics: Metrics
  log: Logger
  version: string
  authenticate(token: string): Promise<AuthenticatedSession | null>
  /** Resolved once the server listens: the default SIWE domain depends on the port. */
  signInPolicy(): SignInPolicy
  health(): Promise<{ db: 'ok' | 'unavailable'; chain: 'ok' | 'unavailable' }>
  chain(): { chainId: number; rpcUrl: string | null }
  /** The job queue, or null when no chain is configured (nothing to run). */
  jobs(): PgBoss | null
}
