import { t } from 'elysia'
import { recipientFields } from './http'

// The shapes of the channel admin routes (docs/protocol.md §4) that herald/admin calls, under the names the
// channel module gives them (it keeps PublicationSchema in messages.ts, the others in http.ts): when both are
// merged, this file goes and nothing else changes.

/** A channel publication; `from` only for publications a user sent. */
export const PublicationSchema = t.Object({
  channel: t.String(),
  seq: t.Number(),
  data: t.Union([t.Unknown(), t.Null()]),
  publishedAt: t.String(),
  from: t.Optional(t.Object({ userId: t.String(), address: t.String() })),
})
export type Publication = typeof PublicationSchema.static

/** `POST /api/admin/channels/:channel/publications` */
export const AdminChannelPublishBodySchema = t.Object({ data: t.Unknown() })
export const AdminChannelPublishResponseSchema = t.Object({ publication: PublicationSchema })

/** `POST /api/admin/channel-tokens`: `ttlSeconds` 1–86,400 (default 3,600); exactly one of userId and address. */
export const ChannelTokenBodySchema = t.Object({
  ...recipientFields,
  channel: t.String(),
  ttlSeconds: t.Optional(t.Integer({ minimum: 1, maximum: 86_400 })),
})
export const ChannelTokenResponseSchema = t.Object({ token: t.String(), expiresAt: t.String() })
