import type { WsErrorCode } from './codes'
import type { Preferences } from './http'
import type { JobProgressReport, JobStatus } from './jobStatus'
import type { Notification, Publication } from './messages'

// Server → client messages (docs/protocol.md §2). Types and plain constants only (the Notification type is
// erased at build time): the SDK and the web app load this module in browsers without a schema library.

/** Every `type` the server sends of its own; anything else is an admin broadcast. */
export const SERVER_MESSAGE_TYPES = [
  'connected',
  'authenticated',
  'notification',
  'job_status',
  'data_update',
  'read_state',
  'inbox_state',
  'preferences',
  'resumed',
  'reset',
  'pong',
  'error',
  'subscribed',
  'channel_reset',
  'unsubscribed',
  'publication',
  'published',
  'join',
  'leave',
  'presence',
] as const
export type ServerMessageType = (typeof SERVER_MESSAGE_TYPES)[number]

export type ConnectedMessage = { type: 'connected'; connectionId: string; timestamp: string }
export type AuthenticatedMessage = {
  type: 'authenticated'
  userId: string
  address: string
  expiresAt: string
}
export type NotificationMessage = { type: 'notification'; notification: Notification }
/** `progress` (§5): a running job's report; updates of one job arrive in order, never after its final status. */
export type JobStatusMessage = {
  type: 'job_status'
  jobId: string
  status: JobStatus
  progress?: JobProgressReport
  data?: unknown
}
/** `transfer` (§8): `data` is a Transfer; `deleted` means reorged (the transfer keeps its row and id). */
export type DataUpdateMessage = {
  type: 'data_update'
  entity: 'token' | 'user' | 'transfer'
  action: DataUpdateAction
  data: unknown
}
export type DataUpdateAction = 'created' | 'updated' | 'deleted'
/**
 * The user's counts after a change of the inbox (§7), computed in the change's transaction. `seq` is the
 * user's latest notification seq when they were computed (later notifications are not in them: each adds one
 * to both counts) and `version` the inbox's state version (a message with a lower one than the last applied is
 * older: skip it). Both are Herald's additions (docs/protocol.md §3).
 */
export type InboxCounts = { unreadCount: number; unseenCount: number; seq: number; version: number }
export type ReadStateMessage = {
  type: 'read_state'
  ids: string[] | 'all'
  /** With `ids: "all"`: every notification with `seq ≤ upToSeq` is read (and seen). */
  upToSeq?: number
} & InboxCounts
/** Seen (`seen: true`, `ids: "all"` with `upToSeq`) or archive changes (`archived`) of the user's inbox. */
export type InboxStateMessage = {
  type: 'inbox_state'
  ids: string[] | 'all'
  upToSeq?: number
  seen?: boolean
  archived?: boolean
} & InboxCounts
export type PreferencesMessage = { type: 'preferences'; preferences: Preferences }
export type ResumedMessage = { type: 'resumed'; since: number; replayed: number; seq: number }
export type ResetMessage = { type: 'reset'; seq: number }
export type PongMessage = { type: 'pong' }
/**
 * `channel` names the channel a refused channel message was about; `ref` echoes a refused `publish`'s own.
 */
export type ErrorMessage = {
  type: 'error'
  code: WsErrorCode
  message: string
  channel?: string
  ref?: string
}
export type SubscribedMessage = { type: 'subscribed'; channel: string; seq: number; replayed: number }
export type ChannelResetMessage = { type: 'channel_reset'; channel: string; seq: number }
export type UnsubscribeReason = 'client' | 'FORBIDDEN' | 'TOKEN_EXPIRED'
export type UnsubscribedMessage = { type: 'unsubscribed'; channel: string; reason: UnsubscribeReason }
export type PublicationMessage = { type: 'publication' } & Publication
export type PublishedMessage = { type: 'published'; channel: string; seq: number; ref?: string }
/** A user as channel presence names them. */
export type ChannelMember = { userId: string; address: string }
export type PresenceChangeMessage = { type: 'join' | 'leave'; channel: string; member: ChannelMember }
/** Members namespaces list who is there; the others answer counts. */
export type PresenceMessage =
  | { type: 'presence'; channel: string; members: (ChannelMember & { connections: number })[] }
  | { type: 'presence'; channel: string; users: number; connections: number }
/** What `/api/admin/broadcast` sends: any object with a string `type`, unwrapped. */
export type BroadcastMessage = { type: string; [key: string]: unknown }

/** One member per entry of SERVER_MESSAGE_TYPES (checked below), discriminated by `type`. */
export type ServerMessage =
  | ConnectedMessage
  | AuthenticatedMessage
  | NotificationMessage
  | JobStatusMessage
  | DataUpdateMessage
  | ReadStateMessage
  | InboxStateMessage
  | PreferencesMessage
  | ResumedMessage
  | ResetMessage
  | PongMessage
  | ErrorMessage
  | SubscribedMessage
  | ChannelResetMessage
  | UnsubscribedMessage
  | PublicationMessage
  | PublishedMessage
  | PresenceChangeMessage
  | PresenceMessage

// The list and the union name the same types: a type added to one and not the other fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const listMatchesUnion: Same<ServerMessage['type'], ServerMessageType> = true
void listMatchesUnion

const serverTypes: ReadonlySet<string> = new Set(SERVER_MESSAGE_TYPES)

/** A server message of the contract's own types (narrowable by `type`), as opposed to a broadcast. */
export const isServerMessage = (message: ServerMessage | BroadcastMessage): message is ServerMessage =>
  serverTypes.has(message.type)

/** A parsed frame: any JSON object with a string `type` (the only thing every frame promises). */
export function isMessage(value: unknown): value is ServerMessage | BroadcastMessage {
  return typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string'
}
