/**
 * `work`, or a rejection with `message` (or what it answers then) once `ms` have passed, whichever comes first. The timer is cleared
 * either way, so a settled race leaves nothing behind. `work` itself is not cancelled: give it its own
 * signal where it holds something (a socket, a child process) that must be let go.
 */
export async function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  message: string | (() => string),
): Promise<T> {
  let timer: Timer | undefined
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(typeof message === 'string' ? message : message())),
          ms,
        )
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

export class TimeoutError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TimeoutError'
  }
}

/** `work`'s value, or `fallback` once `ms` have passed (or when it fails): for probes that must answer. */
export function settleWithin<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  return withTimeout(work, ms, 'timed out').catch(() => fallback)
}
