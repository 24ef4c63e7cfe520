import DataLoader from 'dataloader'
import type { Bus, BusEvent } from '../bus/types'
import type { SqlRunner } from '../db/sqlRunner'
import type { ErrorReporter } from '../errors'
import type { Clock } from '../time/clock'
import type { AuthenticatedSession } from './authenticateToken'
import type { TokenClaims } from './createTokenService'

export interface SessionCache {
  /**
   * The verified claims' session, from memory: a token's signature and `exp` already say who it is and until
   * when (a token never outlives its session), so what is left to check is revocation, which this instance
   * keeps in memory (every revoked session not yet over, loaded at start and added to from the bus). Only the
   * user's inbox base (their latest seq) is read, batched with every other sign-in of the same moment. Before
   * the revocations are loaded (and while they are reloaded after the bus missed messages), `fallback` (the
   * database query) answers.
   */
  check(claims: TokenClaims): Promise<AuthenticatedSession | null>
  /** A session revoked (as far as this instance knows): a socket opened with its token must not stay. */
  isRevoked(sessionId: string): boolean
  /** Loads the revocations and follows the bus; resolves once checks are served from memory. */
  start(): Promise<void>
  stop(): void
}

/** How often revocations of sessions that are over anyway are dropped (their tokens expired with them). */
const PRUNE_MS = 10 * 60_000
/** After a failed load, how soon it is tried again (checks go to the database meanwhile). */
const RETRY_MS = 5_000
const SESSION_ID = /^[0-9a-f-]{36}$/
const USER_ID = /^\d+$/

const revokedSql = `select id::text as id, (extract(epoch from expires_at) * 1000)::float8 as "endsAt"
from sessions where revoked_at is not null and expires_at > now()`
const baseSql = `select id::text as id, last_seq::float8 as "lastSeq" from users where id = any($1::bigint[])`

export function createSessionCache(deps: {
  runner: SqlRunner
  bus: Bus
  clock: Clock
  /** The database's answer, used until the revocations are loaded. */
  fallback(claims: TokenClaims): Promise<AuthenticatedSession | null>
  /** Counts each check by where it was answered (the `herald_session_checks_total` metric). */
  counted?(source: 'memory' | 'database'): void
  onError: ErrorReporter
}): SessionCache {
  const { runner, bus, clock, onError } = deps
  /** Session id → when it ends (ms): past that, its tokens have expired too. */
  const revoked = new Map<string, number>()
  // Not ready while loading: a revocation announced during a (re)load is added to `revoked` as it arrives,
  // and the load only adds to it, so nothing announced is lost.
  let ready = false
  let loading: Promise<boolean> | null = null
  let active = false
  let unsubscribe: (() => void) | null = null
  let cancelPrune: (() => void) | null = null

  // One query for every sign-in of the same turn of the event loop (a reconnection storm is thousands at once).
  const bases = new DataLoader<string, number | null>(
    async (userIds) => {
      const rows = await runner.query<{ id: string; lastSeq: number }>(baseSql, [userIds])
      const byId = new Map(rows.map((row) => [row.id, row.lastSeq]))
      return userIds.map((id) => byId.get(id) ?? null)
    },
    // Sign-ins arrive as separate socket messages, each its own task: waiting for the loop's next turn
    // (setImmediate, not the microtask DataLoader uses by default) gathers every one that came in together.
    { cache: false, maxBatchSize: 1000, batchScheduleFn: (callback) => setImmediate(callback) },
  )

  let reloadAfter = false
  /** Reads every revocation not yet over; true when it could. A load asked for during one runs after it. */
  const load = (): Promise<boolean> => {
    if (loading) {
      reloadAfter = true
      return loading
    }
    loading = (async () => {
      let loaded = false
      do {
        reloadAfter = false
        try {
          const rows = await runner.query<{ id: string; endsAt: number }>(revokedSql, [])
          for (const row of rows) revoked.set(row.id, row.endsAt)
          loaded = true
        } catch (error) {
          loaded = false
          // Checks stay on the database until a load succeeds (retried shortly).
          onError(error, 'loading revoked sessions')
        }
      } while (reloadAfter && active)
      loading = null
      if (!active) return loaded
      if (loaded) ready = true
      else retryLater()
      return loaded
    })()
    return loading
  }
  let cancelRetry: (() => void) | null = null
  const retryLater = () => {
    if (cancelRetry) return
    cancelRetry = clock.schedule(() => {
      cancelRetry = null
      if (active && !ready) void load()
    }, RETRY_MS)
  }

  const onEvent = (event: BusEvent) => {
    if (event.kind !== 'session_revoked') return
    // Its end is unknown here: kept until the next prune finds it over in the database (a reload).
    revoked.set(event.sessionId, Number.POSITIVE_INFINITY)
  }

  const prune = () => {
    cancelPrune = clock.schedule(() => {
      const now = clock.now()
      for (const [id, endsAt] of revoked) if (endsAt <= now) revoked.delete(id)
      // Reloading gives the ends of announced revocations, and any revocation the bus never brought.
      const announced = [...revoked].filter(([, endsAt]) => endsAt === Number.POSITIVE_INFINITY)
      void load().then((loaded) => {
        if (!loaded) return
        for (const [id] of announced) if (revoked.get(id) === Number.POSITIVE_INFINITY) revoked.delete(id)
      })
      if (active) prune()
    }, PRUNE_MS)
  }

  return {
    async check(claims) {
      if (!ready) {
        deps.counted?.('database')
        return deps.fallback(claims)
      }
      deps.counted?.('memory')
      if (!SESSION_ID.test(claims.sessionId) || !USER_ID.test(claims.userId)) return null
      if (revoked.has(claims.sessionId)) return null
      const lastSeq = await bases.load(claims.userId)
      // No such user any more (deleted with its sessions): the session is gone.
      if (lastSeq === null) return null
      // Revoked while the base was read: the revocation wins.
      if (revoked.has(claims.sessionId)) return null
      return { ...claims, lastSeq }
    },
    isRevoked: (sessionId) => revoked.has(sessionId),
    async start() {
      if (active) return
      active = true
      // Follow the bus first, then load: a revocation announced during the load is kept either way.
      unsubscribe = bus.subscribe({
        onEvent,
        onResync() {
          // The bus may have missed a revocation: the database answers until the list is read again.
          ready = false
          void load()
        },
      })
      await load()
      prune()
    },
    stop() {
      active = false
      ready = false
      unsubscribe?.()
      unsubscribe = null
      cancelPrune?.()
      cancelPrune = null
      cancelRetry?.()
      cancelRetry = null
    },
  }
}
