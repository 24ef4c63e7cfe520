// One error type for the whole server. Routes and operations throw HeraldError with a code; the HTTP layer
// turns it into the contract's `{"error":{"code","message"}}` with the status below, and nowhere else picks
// a status.

export const ErrorStatus = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  SIWE_INVALID: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVALID_INPUT: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
} as const

export type ErrorCode = keyof typeof ErrorStatus

export class HeraldError extends Error {
  readonly code: ErrorCode
  /** RATE_LIMITED: sent as the Retry-After header. */
  readonly retryAfterSeconds: number | undefined
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options)
    this.name = 'HeraldError'
    this.code = code
    this.retryAfterSeconds = options?.retryAfterSeconds
  }
  get status(): number {
    return ErrorStatus[this.code]
  }
  toBody() {
    return { error: { code: this.code, message: this.message } }
  }
}

/** Startup configuration problems: one sentence naming the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** Context-adding wrapper for background loops, which report instead of throwing. */
export type ErrorReporter = (error: unknown, context: string) => void

export function describeError(error: unknown): string {
  // viem's errors carry a one-line shortMessage next to a long, multi-line message.
  const short = (error as { shortMessage?: unknown } | null)?.shortMessage
  if (typeof short === 'string' && short) return short
  if (error instanceof Error) return error.message
  return String(error)
}
