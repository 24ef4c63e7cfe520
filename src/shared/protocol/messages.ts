import { Type } from '@sinclair/typebox'
import { type Static, t } from 'elysia'

// The wire contract (docs/protocol.md), one schema per message. Server and client share these; the
// client imports types only, so browsers never load the schema library.

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

// Server → client

export const JobStatusValues = ['pending', 'running', 'completed', 'failed'] as const
export type JobStatus = (typeof JobStatusValues)[number]

export const WsErrorCodes = [
  'UNAUTHORIZED',
  'TOKEN_EXPIRED',
  'CONNECTION_LIMIT_TOTAL_EXCEEDED',
  'CONNECTION_LIMIT_PER_USER_EXCEEDED',
  'RATE_LIMITED',
  'INVALID_MESSAGE',
] as const
export type WsErrorCode = (typeof WsErrorCodes)[number]

export type ConnectedMessage = { type: 'connected'; connectionId: string; timestamp: string }
export type AuthenticatedMessage = {
  type: 'authenticated'
  userId: string
  address: string
  expiresAt: string
}
export type NotificationMessage = { type: 'notification'; notification: Notification }
export type JobStatusMessage = { type: 'job_status'; jobId: string; status: JobStatus; data?: unknown }
export type DataUpdateMessage = {
  type: 'data_update'
  entity: 'token' | 'user'
  action: 'created' | 'updated' | 'deleted'
  data: unknown
}
export type ReadStateMessage = { type: 'read_state'; ids: string[] | 'all'; unreadCount: number }
export type ResumedMessage = { type: 'resumed'; since: number; replayed: number; seq: number }
export type ResetMessage = { type: 'reset'; seq: number }
export type PongMessage = { type: 'pong' }
export type ErrorMessage = { type: 'error'; code: WsErrorCode; message: string }
/** What `/api/admin/broadcast` sends: any object with a string `type`, unwrapped. */
export type BroadcastMessage = { type: string; [key: string]: unknown }

export type ServerMessage =
  | ConnectedMessage
  | AuthenticatedMessage
  | NotificationMessage
  | JobStatusMessage
  | DataUpdateMessage
  | ReadStateMessage
  | ResumedMessage
  | ResetMessage
  | PongMessage
  | ErrorMessage

/** Close codes of the contract. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  tooLarge: 1009,
  /** RFC 6455 "try again later": the server could not check the token (its database is unreachable). */
  tryAgainLater: 1013,
  unauthorized: 4001,
  rateLimited: 4008,
  slowConsumer: 4009,
  connectionLimit: 4029,
} as const
