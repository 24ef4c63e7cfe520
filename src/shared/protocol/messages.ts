import { Type } from '@sinclair/typebox'
import { type Static, t } from 'elysia'

// The wire contract (docs/protocol.md), one schema per message. Server and client share these; the
// client imports types only from here, and its constants from codes.ts, jobStatus.ts, serverMessages.ts
// and tokenRules.ts, so browsers never load the schema library.

export const NotificationSchema = t.Object({
  id: t.String(),
  seq: t.Number(),
  type: t.String(),
  title: t.String(),
  message: t.String(),
  data: t.Union([t.Unknown(), t.Null()]),
  createdAt: t.String(),
  read: t.Boolean(),
  /** §7: shown in a list (reading marks it seen too). */
  seen: t.Boolean(),
  /** §7: out of the default list and out of the counts. */
  archived: t.Boolean(),
  /** Published with `critical: true`: it ignored the user's preferences (Herald's addition, §3). */
  critical: t.Boolean(),
})
export type Notification = Static<typeof NotificationSchema>

/** A channel publication (docs/protocol.md §4); `from` only for publications a user sent. */
export const PublicationSchema = t.Object({
  channel: t.String(),
  seq: t.Number(),
  data: t.Union([t.Unknown(), t.Null()]),
  publishedAt: t.String(),
  from: t.Optional(t.Object({ userId: t.String(), address: t.String() })),
})
export type Publication = Static<typeof PublicationSchema>

// Client → server

export const AuthMessageSchema = t.Object({ type: t.Literal('auth'), token: t.String({ minLength: 1 }) })
export const ResumeMessageSchema = t.Object({
  type: t.Literal('resume'),
  // TypeBox's own Integer: Elysia's t.Integer also accepts numeric strings ("5"), which the contract does not.
  since: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
})
export const PingMessageSchema = t.Object({ type: t.Literal('ping') })

// The channel's name is any string here: the server answers a name that breaks the grammar with
// INVALID_CHANNEL naming it, not INVALID_MESSAGE (src/shared/protocol/channels.ts has the grammar).
export const SubscribeMessageSchema = t.Object({
  type: t.Literal('subscribe'),
  channel: t.String(),
  since: t.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  token: t.Optional(t.String({ minLength: 1 })),
})
export const UnsubscribeMessageSchema = t.Object({ type: t.Literal('unsubscribe'), channel: t.String() })
/** `ref` is the client's own, 1–100 characters, echoed by `published` (and by an error refusing it). */
export const PublishMessageSchema = t.Object({
  type: t.Literal('publish'),
  channel: t.String(),
  data: t.Unknown(),
  ref: t.Optional(t.String({ minLength: 1, maxLength: 100 })),
})
export const PresenceRequestSchema = t.Object({ type: t.Literal('presence'), channel: t.String() })

export type AuthMessage = Static<typeof AuthMessageSchema>
export type ResumeMessage = Static<typeof ResumeMessageSchema>
export type PingMessage = Static<typeof PingMessageSchema>
export type SubscribeMessage = Static<typeof SubscribeMessageSchema>
export type UnsubscribeMessage = Static<typeof UnsubscribeMessageSchema>
export type PublishMessage = Static<typeof PublishMessageSchema>
export type PresenceRequest = Static<typeof PresenceRequestSchema>
export type ClientMessage =
  | AuthMessage
  | ResumeMessage
  | PingMessage
  | SubscribeMessage
  | UnsubscribeMessage
  | PublishMessage
  | PresenceRequest
