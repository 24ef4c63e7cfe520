import { createECDH } from 'node:crypto'
import { and, eq, sql } from 'drizzle-orm'
import type { Database } from '../db/openDatabase'
import { pushSubscriptions } from '../db/pushSchema'
import { HeraldError } from '../errors'
import { endpointAllowed } from './endpointHosts'

/** A browser's PushSubscription as its toJSON() gives it. */
export interface PushSubscriptionInput {
  endpoint: string
  expirationTime?: number | null
  keys: { p256dh: string; auth: string }
}

/** Whether the point is on P-256: the key agreement of RFC 8291 would throw for one that is not. */
function onCurve(point: Buffer): boolean {
  try {
    const ecdh = createECDH('prime256v1')
    ecdh.generateKeys()
    ecdh.computeSecret(point)
    return true
  } catch {
    return false
  }
}

const decodedLength = (value: string) =>
  /^[A-Za-z0-9_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64url').length : -1

/**
 * Stores a subscription for the user (201 `{"id"}`). The same endpoint again updates its keys and expiry and
 * keeps its id; if another user had subscribed it (the browser changed hands), it now belongs to this one,
 * since a browser's subscription reaches whoever uses that browser.
 */
export async function saveSubscription(
  db: Database,
  params: { userId: string; subscription: PushSubscriptionInput; allowedHosts: readonly string[] },
): Promise<{ id: string }> {
  const { endpoint, keys, expirationTime } = params.subscription
  if (!endpointAllowed(endpoint, params.allowedHosts))
    throw new HeraldError(
      'INVALID_INPUT',
      'body.endpoint: must be an https URL on a push service this server allows (PUSH_ENDPOINT_HOSTS).',
    )
  // RFC 8291: the user agent's P-256 public key, uncompressed (65 bytes, 0x04 first), and a 16-byte secret.
  const p256dh = Buffer.from(keys.p256dh, 'base64url')
  if (decodedLength(keys.p256dh) !== 65 || p256dh[0] !== 4 || !onCurve(p256dh))
    throw new HeraldError(
      'INVALID_INPUT',
      'body.keys.p256dh: must be an uncompressed P-256 public key, base64url.',
    )
  if (decodedLength(keys.auth) !== 16)
    throw new HeraldError('INVALID_INPUT', 'body.keys.auth: must be 16 bytes, base64url.')
  const values = {
    userId: Number(params.userId),
    endpoint,
    p256dh: keys.p256dh,
    auth: keys.auth,
    expirationTime: expirationTime == null ? null : Math.round(expirationTime),
  }
  const [row] = await db
    .insert(pushSubscriptions)
    .values(values)
    .onConflictDoUpdate({
      target: pushSubscriptions.endpoint,
      set: { ...values, updatedAt: sql`now()` },
    })
    .returning({ id: pushSubscriptions.id })
  return { id: String(row!.id) }
}

/** Removes the user's subscription of that endpoint; an unknown one (or another user's) changes nothing. */
export async function deleteSubscription(db: Database, userId: string, endpoint: string): Promise<void> {
  await db
    .delete(pushSubscriptions)
    .where(and(eq(pushSubscriptions.userId, Number(userId)), eq(pushSubscriptions.endpoint, endpoint)))
}
