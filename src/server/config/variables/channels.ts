import { type Declaration, variable } from '../declaration'
import { contactUrl, hostPatterns, integer, secret, vapidKey } from '../kinds'

const KiB = 1024
const MiB = 1024 * KiB

/** The variables of channels, presence and Web Push (README order; see ../variables.ts for how to add one). */
export const channelsVariables = [
  variable({
    name: 'CHANNEL_TOKEN_SECRET',
    field: 'channelTokenSecret',
    kind: secret(32),
    unset: 'generated into DATA_DIR, except in production',
    doc: 'HS256 secret of `private:` channel subscription tokens (Herald and your backend sign with it); unset in production, private channels are closed',
  }),
  variable({
    name: 'MAX_SUBSCRIPTIONS_PER_CONNECTION',
    field: 'maxSubscriptionsPerConnection',
    kind: integer(1, 100_000),
    default: 100,
    doc: 'channels one WebSocket connection may be subscribed to (more: SUBSCRIPTION_LIMIT)',
  }),
  variable({
    name: 'MAX_PUBLICATION_BYTES',
    field: 'maxPublicationBytes',
    kind: integer(16, 16 * MiB),
    default: 16 * KiB,
    doc: "largest channel publication's data, serialised (more: PAYLOAD_TOO_LARGE)",
  }),
  variable({
    name: 'CHANNEL_PUBLISHES_PER_SECOND',
    field: 'channelPublishesPerSecond',
    kind: integer(1, 100_000),
    default: 10,
    doc: 'channel publications per second per user from WebSocket clients (burst of twice that; more: RATE_LIMITED)',
  }),
  variable({
    name: 'CHANNEL_HISTORY_DAYS',
    field: 'channelHistoryDays',
    kind: integer(1, 36_500),
    default: 30,
    doc: 'channel publications are kept this long, and always the last 1,000 of each channel',
  }),
  variable({
    name: 'PRESENCE_TTL_SECONDS',
    field: 'presenceTtlSeconds',
    kind: integer(3, 3600),
    default: 30,
    doc: 'channel members (and, for Web Push, connected users) of an instance that stopped answering leave within this long',
  }),
  variable({
    name: 'VAPID_PUBLIC_KEY',
    field: 'vapidPublicKey',
    kind: vapidKey(65),
    unset: 'generated into DATA_DIR in development; elsewhere Web Push is off',
    doc: 'Web Push (VAPID, RFC 8292) public key: the uncompressed P-256 point, base64url',
  }),
  variable({
    name: 'VAPID_PRIVATE_KEY',
    field: 'vapidPrivateKey',
    kind: vapidKey(32, true),
    unset: 'generated with VAPID_PUBLIC_KEY',
    doc: 'the VAPID private key (the P-256 scalar, base64url); set with VAPID_PUBLIC_KEY',
  }),
  variable({
    name: 'VAPID_SUBJECT',
    field: 'vapidSubject',
    kind: contactUrl,
    default: 'mailto:herald@localhost',
    doc: 'the VAPID `sub`: how a push service reaches the operator (mailto: or https: URL)',
  }),
  variable({
    name: 'PUSH_ENDPOINT_HOSTS',
    field: 'pushEndpointHosts',
    kind: hostPatterns,
    default: [
      'fcm.googleapis.com',
      'updates.push.services.mozilla.com',
      '*.notify.windows.com',
      '*.push.apple.com',
    ],
    doc: 'hosts a Web Push endpoint may be on (host names or IP literals, *.x for subdomains of x); others → 422',
  }),
  variable({
    name: 'PUSH_RETRY_DELAY_MS',
    field: 'pushRetryDelayMs',
    kind: integer(1, 60_000),
    default: 1000,
    doc: 'first delay before a Web Push is retried (then doubled, jittered; 3 retries at most)',
  }),
] satisfies readonly Declaration[]
