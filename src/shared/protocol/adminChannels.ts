import { t } from 'elysia'
import { recipientFields } from './http'

// The admin routes of channels (docs/protocol.md §4) that herald/admin calls: publishing to a channel and
// issuing a subscription token. The channel module's own shapes (names, namespaces, messages) live with it.

export const PublicationSchema = t.Object({
  channel: t.String(),
  seq: t.Integer(),
  data: t.Unknown(),
  publishedAt: t.String(),
  /** Only on publications a user sent. */
  from: t.Optional(t.Object({ userId: t.String(), address: t.String() })),
})
export type Publication = typeof PublicationSchema.static

/** `POST /api/admin/channels/:channel/publications` */
export const AdminChannelPublishBodySchema = t.Object({ data: t.Unknown() })
export const AdminChannelPublishResponseSchema = t.Object({ publication: PublicationSchema })
export type AdminChannelPublishResponse = typeof AdminChannelPublishResponseSchema.static

/** `POST /api/admin/channel-tokens`: `ttlSeconds` 1–86,400, default 3,600. */
export const AdminChannelTokenBodySchema = t.Object({
  ...recipientFields,
  channel: t.String({ minLength: 1, maxLength: 200 }),
  ttlSeconds: t.Optional(t.Integer({ minimum: 1, maximum: 86_400 })),
})
export type AdminChannelTokenBody = typeof AdminChannelTokenBodySchema.static
export const ChannelTokenResponseSchema = t.Object({ token: t.String(), expiresAt: t.String() })
export type ChannelTokenResponse = typeof ChannelTokenResponseSchema.static
