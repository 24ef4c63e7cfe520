import type { PushPayload } from '../../shared/protocol'
import type { SqlRunner } from '../db/sqlRunner'
import type { ErrorReporter } from '../errors'
import type { Clock } from '../time/clock'
import { endpointAllowed } from './endpointHosts'
import { type PushAnswer, type PushFetch, type StoredSubscription, sendPush } from './sendPush'
import { shouldPush } from './shouldPush'
import type { VapidKeys } from './vapidKeys'

export interface PushDeliveryDeps {
  runner: SqlRunner
  vapid: VapidKeys
  fetch: PushFetch
  clock: Clock
  allowedHosts: readonly string[]
  /** The first retry's delay (PUSH_RETRY_DELAY_MS); each later one doubles it, all jittered. */
  retryDelayMs: number
  onError: ErrorReporter
  /** Each pair's final outcome (the metrics' herald_web_push_total). */
  onOutcome?(state: DeliveryState): void
}

/** 3 retries after the first attempt (docs/protocol.md §7). */
export const PUSH_ATTEMPTS = 4
/** A Retry-After longer than this gives the push up: it would arrive long after the user came back. */
const MAX_RETRY_AFTER_MS = 60_000

export type DeliveryState = 'accepted' | 'gone' | 'failed'

interface NotificationRow {
  id: number
  seq: number
  type: string
  title: string
  message: string
  data: unknown
  critical?: boolean
}

/**
 * Sends one stored notification to every push subscription of its user (the Web Push queue's job). Each
 * (notification, subscription) pair is claimed in `push_deliveries` before its first request, and only the
 * claimer sends it: two workers running the same job, or a job pg-boss retries after its worker died, never
 * push it twice. The price of at most once: a worker that dies between its claim and the push service's
 * answer loses that push; the notification itself is in the inbox.
 */
export async function deliverPush(
  deps: PushDeliveryDeps,
  target: { userId: string; seq: number },
): Promise<Map<number, DeliveryState>> {
  const outcomes = new Map<number, DeliveryState>()
  const [notification] = await deps.runner.query<NotificationRow>(
    'select * from notifications where user_id = $1 and seq = $2',
    [target.userId, target.seq],
  )
  if (!notification) return outcomes
  const allowed = await shouldPush(deps.runner, {
    userId: target.userId,
    type: notification.type,
    critical: notification.critical === true,
  })
  if (!allowed) return outcomes
  // A subscription past the expiry its browser gave is dead: the push service would answer 404 or 410.
  await deps.runner.query(
    'delete from push_subscriptions where user_id = $1 and expiration_time is not null and expiration_time < $2',
    [target.userId, deps.clock.now()],
  )
  const subscriptions = await deps.runner.query<StoredSubscription>(
    'select id, endpoint, p256dh, auth from push_subscriptions where user_id = $1',
    [target.userId],
  )
  const payload = toPayload(notification)
  await Promise.all(
    subscriptions.map(async (subscription) => {
      const id = Number(subscription.id)
      // A failed claim (the database) fails the job, which pg-boss retries; nothing was sent for this pair.
      const claimed = await deps.runner.query(
        `insert into push_deliveries (notification_id, subscription_id, state) values ($1, $2, 'sending')
         on conflict do nothing returning 1`,
        [notification.id, id],
      )
      if (claimed.length === 0) return
      // Past the claim, nothing may fail the job: a retried job would skip this pair anyway.
      try {
        const state = await pushWithRetries(deps, { ...subscription, id }, payload)
        outcomes.set(id, state)
        deps.onOutcome?.(state)
      } catch (error) {
        deps.onError(error, `pushing notification ${notification.id} to subscription ${id}`)
      }
    }),
  )
  return outcomes
}

function toPayload(notification: NotificationRow): PushPayload {
  const data = notification.data as { url?: unknown } | null
  return {
    id: String(notification.id),
    seq: Number(notification.seq),
    type: notification.type,
    title: notification.title,
    message: notification.message,
    ...(data && typeof data === 'object' && typeof data.url === 'string' ? { url: data.url } : {}),
  }
}

async function pushWithRetries(
  deps: PushDeliveryDeps,
  subscription: StoredSubscription,
  payload: PushPayload,
): Promise<DeliveryState> {
  const record = (state: DeliveryState | 'sending', attempts: number, status: number | null) =>
    deps.runner.query(
      `update push_deliveries set state = $3, attempts = $4, last_status = $5, updated_at = now()
       where notification_id = $1 and subscription_id = $2`,
      [payload.id, subscription.id, state, attempts, status],
    )
  // PUSH_ENDPOINT_HOSTS may have narrowed since the browser subscribed: the list in force now decides.
  if (!endpointAllowed(subscription.endpoint, deps.allowedHosts)) {
    await record('failed', 0, null)
    return 'failed'
  }
  let answer: PushAnswer = { status: null, retryAfterMs: null }
  let attempts = 0
  for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
    attempts = attempt
    answer = await sendPush(deps, subscription, payload)
    const { status } = answer
    if (status !== null && status >= 200 && status < 300) {
      await record('accepted', attempt, status)
      return 'accepted'
    }
    if (status === 404 || status === 410) {
      // The browser unsubscribed or the subscription expired (RFC 8030 §7.3): it will never work again.
      await deps.runner.query('delete from push_subscriptions where id = $1', [subscription.id])
      return 'gone'
    }
    const retryable =
      (status === null && !answer.permanent) || status === 429 || (status !== null && status >= 500)
    if (!retryable || attempt === PUSH_ATTEMPTS) break
    const delay = answer.retryAfterMs ?? backoff(deps.retryDelayMs, attempt)
    if (delay > MAX_RETRY_AFTER_MS) break
    await record('sending', attempt, status)
    await new Promise<void>((resolve) => deps.clock.schedule(resolve, delay))
  }
  await record('failed', attempts, answer.status)
  const host = new URL(subscription.endpoint).host
  deps.onError(
    answer.error ?? new Error(`the push service answered ${answer.status}`),
    `pushing to ${host} (${attempts} attempts; the push is given up)`,
  )
  return 'failed'
}

/** Exponential from the first delay, jittered ±25% so retries of many pushes do not arrive together. */
function backoff(firstMs: number, attempt: number): number {
  return Math.round(firstMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5))
}
