import type { Clock } from '../../src/server/time/clock'

export interface ManualClock extends Clock {
  /** Moves time forward, running every task that is then due, in order. */
  advance(ms: number): void
}

/**
 * A clock for tests whose time moves only when the test moves it: rate limits do not refill during a burst
 * however slow the machine, and a token expires the moment the test says so. Scheduled tasks run when
 * `advance` passes their time, and also after their delay in real time (the hub's gap filling and
 * slow-consumer sweeps keep working); a task that checks the time finds the clock where the test left it.
 */
export function createManualClock(start = Date.now()): ManualClock {
  let now = start
  const tasks = new Set<{ at: number; run: () => void; timer: Timer }>()
  const fire = (task: { at: number; run: () => void; timer: Timer }) => {
    if (!tasks.delete(task)) return
    clearTimeout(task.timer)
    task.run()
  }
  return {
    now: () => now,
    schedule(run, ms) {
      const task = { at: now + ms, run, timer: undefined as unknown as Timer }
      task.timer = setTimeout(() => fire(task), Math.min(Math.max(0, ms), 2 ** 31 - 1))
      tasks.add(task)
      return () => {
        tasks.delete(task)
        clearTimeout(task.timer)
      }
    },
    advance(ms) {
      now += ms
      for (const task of [...tasks].filter((t) => t.at <= now).sort((a, b) => a.at - b.at)) fire(task)
    },
  }
}
