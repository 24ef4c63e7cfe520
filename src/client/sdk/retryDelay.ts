const RETRY_MIN_MS = 1000
const RETRY_MAX_MS = 30_000

/**
 * How long to wait before the `attempt`th retry of a request the server could not serve (UNAVAILABLE: a resume,
 * a subscribe): 1 s, 2 s, 4 s … 30 s (the caller adds jitter).
 */
export const resumeRetryDelayMs = (attempt: number): number =>
  Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.max(0, attempt - 1))
