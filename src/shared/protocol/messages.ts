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
})
export type Notification = Static<typeof NotificationSchema>

// Client → server

export const AuthMessageSchema = t.Object({ type: t.Literal('auth'), token: t.String({ minLength: 1 }) })
export const ResumeMessageSchema = t.Object({
  type: t.Literal('resume'),
  // TypeBox's own Integer: Elysia's t.Integer also accepts numeric strings ("5"), which the contract does not.
  since: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
})
export const PingMessageSchema = t.Object({ type: t.Literal('ping') })

export type AuthMessage = Static<typeof AuthMessageSchema>
export type ResumeMessage = Static<typeof ResumeMessageSchema>
export type PingMessage = Static<typeof PingMessageSchema>
export type ClientMessage = AuthMessage | ResumeMessage | PingMessage
