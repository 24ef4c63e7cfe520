import type {
  AdminBroadcastResponse,
  AdminChannelPublishResponseSchema,
  AdminPublishBatchBody,
  AdminPublishBatchResponse,
  AdminPublishBody,
  AdminPublishResponse,
  BroadcastMessage,
  ChannelTokenBodySchema,
  ChannelTokenResponseSchema,
  ErrorBody,
} from '../../shared/protocol'
import { createIdempotencyKey, IDEMPOTENCY_KEY_HEADER } from '../../shared/protocol/idempotency'

// herald/admin: publishing from another backend (docs/protocol.md §1, §4, §6 and §9). Only the platform's
// fetch and src/shared: it runs on Bun and Node 20+, with none of the server's code.

type AdminChannelPublishResponse = typeof AdminChannelPublishResponseSchema.static
type ChannelTokenBody = typeof ChannelTokenBodySchema.static
type ChannelTokenResponse = typeof ChannelTokenResponseSchema.static

/** An answer that is not a success once retries are spent, or one that retrying cannot change. */
export class HeraldAdminError extends Error {
  /** The HTTP status; 0 when no answer arrived at all (the network failed on every attempt). */
  readonly status: number
  /** The contract's error code (`NOT_FOUND`, `RATE_LIMITED`, …), `NETWORK_ERROR`, or `HTTP_ERROR` for a body not in the contract's shape. */
  readonly code: string
  /** How many requests were sent for this call. */
  readonly attempts: number
  constructor(status: number, code: string, message: string, attempts: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'HeraldAdminError'
    this.status = status
    this.code = code
    this.attempts = attempts
  }
}

export interface HeraldAdminOptions {
  /** Herald's base URL, e.g. https://herald.example.com. */
  url: string
  /** HERALD_ADMIN_KEY of that server. */
  adminKey: string
  /** Tries after the first on a network error, 429 or 503 (default 4: at most 5 attempts). */
  retries?: number
  /** The first retry's delay in ms (default 250), doubling up to `maxDelayMs` (default 10 000), jittered. */
  minDelayMs?: number
  maxDelayMs?: number
  fetch?: typeof fetch
  /** How to wait between attempts (default setTimeout); tests pass one that records instead. */
  sleep?: (ms: number) => Promise<void>
}

export interface CallOptions {
  /** The key of this operation (default: a new one per call, kept across its retries). */
  idempotencyKey?: string
  /** Aborts the call, its retries included. */
  signal?: AbortSignal
}

export interface HeraldAdmin {
  /** Stores a notification for one user (by id or address) and pushes it: `POST /api/admin/notifications`. */
  notify(params: AdminPublishBody, options?: CallOptions): Promise<AdminPublishResponse>
  /**
   * Many at once, all or nothing: a list of single notifications, or the batch route's own body (one
   * notification for many recipients). `POST /api/admin/notifications/batch`.
   */
  notifyMany(
    list: readonly AdminPublishBody[] | AdminPublishBatchBody,
    options?: CallOptions,
  ): Promise<AdminPublishBatchResponse>
  /** Sends a message, unstored, to every open connection: `POST /api/admin/broadcast`. */
  broadcast(message: BroadcastMessage, options?: CallOptions): Promise<AdminBroadcastResponse>
  /** Stores and sends a publication on a channel: `POST /api/admin/channels/:channel/publications`. */
  publish(channel: string, data: unknown, options?: CallOptions): Promise<AdminChannelPublishResponse>
  /** A subscription token for one user and one channel: `POST /api/admin/channel-tokens`. */
  issueChannelToken(params: ChannelTokenBody, options?: CallOptions): Promise<ChannelTokenResponse>
}

/** Statuses worth the same request again: rate limited, unavailable, and the 409 of a key still in use. */
const retryable = (response: Response) =>
  response.status === 429 ||
  response.status === 503 ||
  (response.status === 409 && response.headers.has('retry-after'))

/** Retry-After in ms: whole seconds or an HTTP date; null when absent or unreadable. */
function retryAfterMs(response: Response): number | null {
  const value = response.headers.get('retry-after')?.trim()
  if (!value) return null
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}

/** Percent-encoded where a character needs it; `:` and `@` of channel names stay readable (both are pchars). */
const channelInPath = (channel: string) =>
  encodeURIComponent(channel).replace(/%3A/gi, ':').replace(/%40/g, '@')

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `signal` aborted while waiting: the wait ends at once. */
const sleepUnless = (sleep: (ms: number) => Promise<void>, ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const abort = () => reject(signal!.reason)
    signal?.addEventListener('abort', abort, { once: true })
    sleep(ms).then(() => {
      signal?.removeEventListener('abort', abort)
      resolve()
    }, reject)
  })

/** A client of Herald's admin API for other backends; every call is safe to retry and retried. */
export function createHeraldAdmin(options: HeraldAdminOptions): HeraldAdmin {
  const base = options.url.replace(/\/+$/, '')
  const retries = options.retries ?? 4
  const minDelay = options.minDelayMs ?? 250
  const maxDelay = options.maxDelayMs ?? 10_000
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))
  const sleep = options.sleep ?? defaultSleep

  /** Exponential from minDelay, capped, each between half and all of it so retrying clients spread out. */
  const backoff = (attempt: number) =>
    Math.min(maxDelay, minDelay * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)

  async function call<T>(path: string, body: unknown, callOptions: CallOptions = {}): Promise<T> {
    const { signal } = callOptions
    const headers = {
      authorization: `Bearer ${options.adminKey}`,
      'content-type': 'application/json',
      [IDEMPOTENCY_KEY_HEADER]: callOptions.idempotencyKey ?? createIdempotencyKey(),
    }
    const text = JSON.stringify(body)
    for (let attempt = 1; ; attempt++) {
      let response: Response
      let answer: string
      try {
        response = await doFetch(`${base}${path}`, { method: 'POST', headers, body: text, signal })
        // A connection closed while the body is read fails here: the same as no answer.
        answer = await response.text()
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        if (attempt > retries)
          throw new HeraldAdminError(
            0,
            'NETWORK_ERROR',
            `No answer from ${base}${path} after ${attempt} attempts: ${(error as Error)?.message ?? error}`,
            attempt,
            error,
          )
        await sleepUnless(sleep, backoff(attempt), signal)
        continue
      }
      if (response.ok) return (answer ? JSON.parse(answer) : null) as T
      if (retryable(response) && attempt <= retries) {
        // Retry-After is the server's word; the jitter on top keeps clients told the same from returning together.
        const after = retryAfterMs(response)
        await sleepUnless(sleep, after === null ? backoff(attempt) : after + backoff(1) / 2, signal)
        continue
      }
      let error: ErrorBody['error'] | undefined
      try {
        error = (JSON.parse(answer) as ErrorBody).error
      } catch {
        // A proxy's own page, say: reported with its status.
      }
      throw new HeraldAdminError(
        response.status,
        error?.code ?? 'HTTP_ERROR',
        error?.message ?? `HTTP ${response.status} from ${path}`,
        attempt,
      )
    }
  }

  return {
    notify: (params, callOptions) => call('/api/admin/notifications', params, callOptions),
    notifyMany: (list, callOptions) =>
      call(
        '/api/admin/notifications/batch',
        Array.isArray(list) ? { notifications: list } : list,
        callOptions,
      ),
    broadcast: (message, callOptions) => call('/api/admin/broadcast', { message }, callOptions),
    publish: (channel, data, callOptions) =>
      call(`/api/admin/channels/${channelInPath(channel)}/publications`, { data }, callOptions),
    issueChannelToken: (params, callOptions) => call('/api/admin/channel-tokens', params, callOptions),
  }
}
