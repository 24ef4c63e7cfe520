import type { SqlRunner } from '../db/sqlRunner'
import type { ErrorReporter } from '../errors'
import type { Clock } from '../time/clock'

/**
 * Which users have an authenticated WebSocket on this instance, kept in `user_connections`, the one record of who
 * is connected where: a Web Push worker on any instance tells from it whether a user was away everywhere when a
 * notification was stored (docs/protocol.md §3, "Web Push"), and the library's `getUserConnectionCount` adds up
 * a user's rows over every live instance (§9).
 *
 * Why a table rather than asking over the bus: the question is asked by a worker, possibly in a process that
 * holds no sockets and at a moment no instance is talking; a row read is one indexed query with no waiting for
 * answers that may never come, and it works with every bus (memory, PostgreSQL, Redis) alike. Writes are
 * coalesced: a burst of changes for the same user is one row written with the latest count. A heartbeat
 * refreshes `seen_at` of every row of this instance; a row not refreshed for PRESENCE_TTL_SECONDS (its
 * instance died without saying goodbye) no longer counts.
 *
 * The count used to travel as channel presence on the bus as well: a second record of the same fact, written
 * on every sign-in and sign-out and carried to every instance. Socket sign-ins are the cost that bounds a
 * restart storm, so the fact is now written once, coalesced, and read only when someone asks.
 */
export interface ConnectionRegistry {
  /** The user's authenticated connections on this instance are now `count`. Never throws. */
  changed(userId: string, count: number): void
  start(): void
  /** Stops the heartbeat and removes this instance's rows: its users are no longer connected here. */
  stop(): Promise<void>
  /** Resolves once every change reported so far is written (or failed and was reported). */
  settled(): Promise<void>
  /**
   * The user's authenticated connections over every instance whose rows are live (refreshed within the TTL),
   * this one's changes so far included: what the library's `getUserConnectionCount` answers. Works on an
   * instance that holds no sockets too (it only reads).
   */
  count(userId: string): Promise<number>
}

export function createConnectionRegistry(deps: {
  runner: SqlRunner
  clock: Clock
  ttlSeconds: number
  onError: ErrorReporter
  instanceId?: string
}): ConnectionRegistry {
  const { runner, clock, ttlSeconds, onError } = deps
  const instanceId = deps.instanceId ?? crypto.randomUUID()
  const pending = new Map<string, number>()
  let flushing: Promise<void> | null = null
  let cancelHeartbeat: (() => void) | null = null
  let stopped = false

  // This instance's statements on the table run one at a time: a write of many users' rows and the heartbeat's
  // update of all of them, side by side, lock the same rows in different orders and deadlock (seen in a restart
  // storm of 10,000 sign-ins).
  let queue: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(statement: () => Promise<T>): Promise<T> => {
    const run = queue.then(statement)
    queue = run.catch(() => {})
    return run
  }

  // A count of 0 keeps the row with `left_at`: a notification committed before the user left was committed
  // while they were connected, even if a worker gets to it after they left. Rows are written in user order.
  const write = (changes: [string, number][]) =>
    exclusive(() =>
      runner.query(
        `insert into user_connections (instance_id, user_id, connections, seen_at, left_at)
         select $1, u, c, now(), case when c = 0 then now() end from unnest($2::bigint[], $3::int[]) as t(u, c)
         order by u
         on conflict (instance_id, user_id) do update set connections = excluded.connections, seen_at = now(),
           left_at = case when excluded.connections = 0 then now() end`,
        [instanceId, changes.map(([userId]) => userId), changes.map(([, count]) => count)],
      ),
    )

  let cancelRetry: (() => void) | null = null
  const flush = () => {
    flushing ??= (async () => {
      while (pending.size > 0 && !stopped) {
        const changes = [...pending]
        pending.clear()
        try {
          await write(changes)
        } catch (error) {
          onError(error, `recording ${changes.length} users' connections`)
          // Not lost: written again with the next changes, or in a second, whichever comes first.
          for (const [userId, count] of changes) if (!pending.has(userId)) pending.set(userId, count)
          cancelRetry ??= clock.schedule(() => {
            cancelRetry = null
            void flush()
          }, 1000)
          break
        }
      }
      flushing = null
    })()
    return flushing
  }

  const heartbeat = async () => {
    try {
      await exclusive(() =>
        runner.query('update user_connections set seen_at = now() where instance_id = $1', [instanceId]),
      )
      // Rows of instances that died long ago, and of users who left long ago (no worker still weighs a
      // notification from then): nobody else would remove them. Rows another instance is writing are skipped
      // (removed at a later beat), so two instances never wait on each other's rows.
      await exclusive(() =>
        runner.query(
          `delete from user_connections where (instance_id, user_id) in (
             select instance_id, user_id from user_connections
             where seen_at < now() - make_interval(secs => $1::int * 10) or left_at < now() - interval '1 hour'
             for update skip locked)`,
          [ttlSeconds],
        ),
      )
    } catch (error) {
      onError(error, 'refreshing the connections recorded for this instance')
    }
  }
  const arm = () => {
    if (stopped) return
    cancelHeartbeat = clock.schedule(
      () => void heartbeat().finally(arm),
      Math.max(1000, Math.floor((ttlSeconds * 1000) / 3)),
    )
  }

  const settled = async () => {
    while (flushing) await flushing
  }

  return {
    changed(userId, count) {
      if (stopped) return
      pending.set(userId, count)
      void flush()
    },
    start() {
      if (cancelHeartbeat || stopped) return
      arm()
    },
    async stop() {
      if (stopped) return
      stopped = true
      cancelHeartbeat?.()
      cancelHeartbeat = null
      cancelRetry?.()
      cancelRetry = null
      pending.clear()
      await flushing
      try {
        await exclusive(() =>
          runner.query('delete from user_connections where instance_id = $1', [instanceId]),
        )
      } catch (error) {
        onError(error, "removing this instance's connection rows")
      }
    },
    settled,
    async count(userId) {
      if (!/^\d{1,19}$/.test(userId)) return 0
      await settled()
      const [row] = await runner.query<{ n: number | string | null }>(
        `select coalesce(sum(connections), 0)::int as n from user_connections
          where user_id = $1 and seen_at > now() - make_interval(secs => $2::int)`,
        [userId, ttlSeconds],
      )
      return Number(row?.n ?? 0)
    },
  }
}

/**
 * The SQL condition "the user of notification `n` had an authenticated connection on some instance when it
 * was stored": a row of a live instance (refreshed within the TTL, `ttl` the parameter holding it) whose user
 * is still connected, or left after the notification's `created_at`. Both times are the database's.
 */
export const connectedWhenStored = (ttl: string) => `exists (select 1 from user_connections c
  where c.user_id = n.user_id and c.seen_at > now() - make_interval(secs => ${ttl}::int)
    and (c.connections > 0 or c.left_at >= n.created_at))`
