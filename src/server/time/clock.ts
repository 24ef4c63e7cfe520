/** Runs `run` after `ms`; answers a function that cancels it. */
export type Schedule = (run: () => void, ms: number) => () => void

/**
 * Time as the server's rooms see it: what time it is (milliseconds since the epoch) and a timer. Injected,
 * so a test that needs time to pass (a token that expires, a bucket that refills, a deadline) advances a
 * manual clock instead of sleeping.
 */
export interface Clock {
  now(): number
  schedule: Schedule
}

// setTimeout fires at once past 2^31-1 ms; longer waits are re-armed until they are due.
const MAX_TIMER = 2 ** 31 - 1

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(run, ms) {
    let timer: Timer
    const arm = (left: number) => {
      timer = setTimeout(() => (left > MAX_TIMER ? arm(left - MAX_TIMER) : run()), Math.min(left, MAX_TIMER))
    }
    arm(Math.max(0, ms))
    return () => clearTimeout(timer)
  },
}
