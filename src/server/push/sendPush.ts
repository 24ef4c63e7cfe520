import webpush from 'web-push'
import type { PushPayload } from '../../shared/protocol'
import type { VapidKeys } from './vapidKeys'

export interface StoredSubscription {
  id: number
  endpoint: string
  p256dh: string
  auth: string
}

/** What the push service answered: its status (null: no answer) and the delay a 429 or 503 asked for. */
export interface PushAnswer {
  status: number | null
  retryAfterMs: number | null
  error?: unknown
  /** No request was made and none would work (the payload could not be encrypted for these keys). */
  permanent?: boolean
}

export type PushFetch = (url: string, init: RequestInit) => Promise<Response>

/** RFC 8030 §5.2: a day; after that an undelivered push is stale (the inbox has it anyway). */
const TTL_SECONDS = 86_400
const REQUEST_TIMEOUT_MS = 10_000

/**
 * One request to a push service: the payload encrypted with `aes128gcm` (RFC 8291) for the subscription's
 * keys and signed with VAPID (RFC 8292: `Authorization: vapid t=<ES256 JWT>, k=<public key>`, `aud` the
 * endpoint's origin, `exp` 12 h ahead), both by the `web-push` package. The request itself is made here with
 * `fetch`, never following a redirect (a push service has no reason to send one, and following it would
 * reach a host the allow-list never saw).
 */
export async function sendPush(
  deps: { vapid: VapidKeys; fetch: PushFetch },
  subscription: StoredSubscription,
  payload: PushPayload,
): Promise<PushAnswer> {
  let details: ReturnType<typeof webpush.generateRequestDetails>
  try {
    details = webpush.generateRequestDetails(
      { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
      JSON.stringify(payload),
      {
        vapidDetails: deps.vapid,
        TTL: TTL_SECONDS,
        urgency: 'normal',
        contentEncoding: 'aes128gcm',
      },
    )
  } catch (error) {
    // Keys that cannot encrypt (checked at subscribe, so only rows from elsewhere): no request can work.
    return { status: null, retryAfterMs: null, error, permanent: true }
  }
  try {
    const response = await deps.fetch(details.endpoint, {
      method: 'POST',
      headers: details.headers as Record<string, string>,
      body: details.body as unknown as BodyInit,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    // The body is not needed; reading it frees the connection.
    await response.arrayBuffer().catch(() => undefined)
    return { status: response.status, retryAfterMs: retryAfter(response.headers.get('retry-after')) }
  } catch (error) {
    return { status: null, retryAfterMs: null, error }
  }
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now; null when absent or unreadable. */
function retryAfter(value: string | null): number | null {
  if (!value) return null
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}
