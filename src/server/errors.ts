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
  /** An Idempotency-Key used before with another body (docs/protocol.md §6). */
  IDEMPOTENCY_KEY_REUSED: 422,
  /** A channel name that breaks the grammar of docs/protocol.md §4. */
  INVALID_CHANNEL: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
} as const

export type ErrorCode = keyof typeof ErrorStatus

/**
 * The other status a code takes where the contract gives it one: INVALID_INPUT is 400 for a bad header (an
 * Idempotency-Key that is not 1–255 printable ASCII characters, docs/protocol.md §6), 422 for a bad field.
 */
export const AlternativeErrorStatus = { INVALID_INPUT: 400 } as const satisfies Partial<
  Record<ErrorCode, number>
>
type Alternative<C extends ErrorCode> = C extends keyof typeof AlternativeErrorStatus
  ? (typeof AlternativeErrorStatus)[C]
  : never

export class HeraldError<Code extends ErrorCode = ErrorCode> extends Error {
  readonly code: Code
  /** RATE_LIMITED, and CONFLICT while a request with the same Idempotency-Key runs: the Retry-After header. */
  readonly retryAfterSeconds: number | undefined
  readonly #status: number | undefined
  constructor(
    code: Code,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number; status?: Alternative<Code> },
  ) {
    super(message, options)
    this.name = 'HeraldError'
    this.code = code
    this.retryAfterSeconds = options?.retryAfterSeconds
    this.#status = options?.status
  }
  get status(): number {
    return this.#status ?? ErrorStatus[this.code]
  }
  toBody() {
    return { error: { code: this.code, message: this.message } }
  }
}

// Socket errors and postgres-js's own connection codes: the database (or the path to it) is not there.
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
])
// SQLSTATEs of a server that is going away, starting, overloaded, or cancelled a statement on a timeout:
// a retry later can succeed, so they are the client's 503, not a bug's 500.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014'])
// node-postgres (pg-boss's pool) reports lost connections by message only.
const UNREACHABLE_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|connection timeout/i

/**
 * True when the error (or anything in its cause chain: drizzle wraps driver errors) says the database could
 * not be reached or is refusing work for now, rather than that the query itself was wrong.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (typeof current !== 'object') return false
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown }
    if (typeof code === 'string') {
      if (UNREACHABLE_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true
    }
    if (typeof message === 'string' && UNREACHABLE_MESSAGE.test(message)) return true
    current = cause
  }
  return false
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
