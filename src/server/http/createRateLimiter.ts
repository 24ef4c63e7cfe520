import { HeraldError } from '../errors'

export interface RateLimiter {
  /** Takes one token from `key`'s bucket: 0 when allowed, otherwise the whole seconds until one is back. */
  take(key: string): number
  /** Keys currently held (idle keys are evicted). */
  readonly size: number
}

export interface RateLimiterOptions {
  /** Tokens added per second. */
  ratePerSecond: number
  /** Bucket size: the most requests accepted at once after a quiet spell. */
  burst: number
  /** Most keys held; past it the least recently used are dropped. */
  maxKeys?: number
  /** The clock, in milliseconds (default performance.now); tests pass one they advance by hand. */
  now?: () => number
}

/** A token bucket: the tokens it holds, as of `refilledAt` (milliseconds on the caller's clock). */
export interface TokenBucket {
  tokens: number
  refilledAt: number
}

/**
 * One request against a bucket at `now`: refills it for the time since `refilledAt` (`rate` tokens a second,
 * at most `burst`), then takes a token. Returns 0 when it took one, otherwise the whole seconds until one is
 * back. It reads no clock and keeps no state of its own (it updates `bucket` in place, so a hot path
 * allocates nothing): the keyed limiter below and the hub's per-connection budget share it.
 */
export function takeToken(bucket: TokenBucket, now: number, rate: number, burst: number): number {
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.refilledAt) / 1000) * rate)
  bucket.refilledAt = now
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1
    return 0
  }
  return Math.max(1, Math.ceil((1 - bucket.tokens) / rate))
}

/**
 * Token buckets by key (a client IP, a user, a key). Memory stays bounded: a bucket that has refilled is
 * the same as no bucket, so idle keys are swept out, and past `maxKeys` the least recently used go first.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { ratePerSecond: rate, burst } = options
  const maxKeys = options.maxKeys ?? 100_000
  const now = options.now ?? (() => performance.now())
  const refillMs = (burst / rate) * 1000
  // Map order is recency order: take() re-inserts the key it touches.
  const buckets = new Map<string, TokenBucket>()
  let added = 0

  const sweep = (at: number) => {
    for (const [key, bucket] of buckets) if (at - bucket.refilledAt >= refillMs) buckets.delete(key)
    if (buckets.size < maxKeys) return
    for (const key of buckets.keys()) {
      buckets.delete(key)
      if (buckets.size < maxKeys * 0.9) break
    }
  }

  return {
    take(key) {
      const at = now()
      let bucket = buckets.get(key)
      if (bucket) buckets.delete(key)
      else {
        if (buckets.size >= maxKeys || ++added % 1024 === 0) sweep(at)
        bucket = { tokens: burst, refilledAt: at }
      }
      buckets.set(key, bucket)
      return takeToken(bucket, at, rate, burst)
    },
    get size() {
      return buckets.size
    },
  }
}

/** The 429 answer: the error handler turns retryAfterSeconds into a Retry-After header. */
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new HeraldError('RATE_LIMITED', message, { retryAfterSeconds })
