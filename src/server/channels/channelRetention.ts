import type { SqlRunner } from '../db/sqlRunner'
import type { ErrorReporter } from '../errors'
import type { Clock } from '../time/clock'

export interface ChannelRetention {
  start(): void
  /** Resolves once the pass in progress, if any, has finished. */
  stop(): Promise<void>
  /** One pass now; answers how many publications it removed (tests, and the loop). */
  sweep(): Promise<number>
}

/** Publications every channel keeps however old they are (docs/protocol.md §4). */
export const CHANNEL_KEEP_LATEST = 1000
const HOUR = 3_600_000
const DAY = 86_400_000

// Old enough and not among the channel's latest `keep`: a bounded batch per statement, so no statement holds
// many row locks or runs long while publishing goes on.
const SWEEP = `with gone as (
  delete from channel_publications where id in (
    select p.id from channel_publications p join channels c on c.name = p.channel
    where p.published_at < $1::timestamptz and p.seq <= c.last_seq - $2
    limit $3)
  returning 1)
select count(*)::int as n from gone`

/**
 * The retention of channel history: publications older than CHANNEL_HISTORY_DAYS go, except each channel's
 * latest CHANNEL_KEEP_LATEST. A background loop (every `intervalMs`, first soon after start) that never throws:
 * a failed pass is reported and the next one tries again. Every instance may run it; passes on several
 * instances delete the same rows once.
 */
export function createChannelRetention(deps: {
  runner: SqlRunner
  clock: Clock
  historyDays: number
  onError: ErrorReporter
  keep?: number
  intervalMs?: number
  batch?: number
}): ChannelRetention {
  const { runner, clock } = deps
  const keep = deps.keep ?? CHANNEL_KEEP_LATEST
  const intervalMs = deps.intervalMs ?? HOUR
  const batch = deps.batch ?? 5000
  let cancel: (() => void) | null = null
  let running: Promise<unknown> | null = null
  let active = false

  const sweep = async () => {
    const cutoff = new Date(clock.now() - deps.historyDays * DAY).toISOString()
    let removed = 0
    for (;;) {
      const [row] = await runner.query<{ n: number }>(SWEEP, [cutoff, keep, batch])
      const n = Number(row?.n ?? 0)
      removed += n
      if (n < batch) return removed
    }
  }

  const pass = () => {
    cancel = null
    if (!active) return
    running = sweep()
      .catch((error) => deps.onError(error, 'sweeping old channel publications'))
      .finally(() => {
        running = null
        if (active) cancel = clock.schedule(pass, intervalMs)
      })
  }

  return {
    sweep,
    start() {
      if (active) return
      active = true
      cancel = clock.schedule(pass, Math.min(intervalMs, 10_000))
    },
    async stop() {
      active = false
      cancel?.()
      cancel = null
      await running
    },
  }
}
