import type {
  AuthenticatedMessage,
  BroadcastMessage,
  DataUpdateMessage,
  ErrorMessage,
  InboxStateMessage,
  JobStatusMessage,
  Notification,
  PreferencesMessage,
  ReadStateMessage,
  ResetMessage,
  ResumedMessage,
  ServerMessage,
  SessionResponse,
} from '../../shared/protocol'
import type { ChannelSubscribeOptions, ChannelSubscription } from './channelSubscriptions'
import type { HttpApi } from './createHttpApi'

// The client's public surface: its states, events and options.

export type ConnectionState =
  /** Not started, or stopped by disconnect(). */
  | 'idle'
  | 'connecting'
  | 'authenticating'
  /** Authenticated and caught up (or anonymous and receiving broadcasts). */
  | 'connected'
  | 'reconnecting'
  /** Stopped for a reason reconnecting cannot fix; see `closedReason`. */
  | 'closed'

export interface HeraldClientEvents {
  notification: (notification: Notification) => void
  job_status: (message: JobStatusMessage) => void
  data_update: (message: DataUpdateMessage) => void
  read_state: (message: ReadStateMessage) => void
  /** Seen and archive changes of the user's inbox, from any tab or device (docs/protocol.md §7). */
  inbox_state: (message: InboxStateMessage) => void
  /** The user's preferences changed (from any tab or device). */
  preferences: (message: PreferencesMessage) => void
  authenticated: (message: AuthenticatedMessage) => void
  resumed: (message: ResumedMessage) => void
  /** More was missed than the server replays: re-fetch over HTTP. */
  reset: (message: ResetMessage) => void
  error: (message: ErrorMessage) => void
  /** Anything else the server sends, such as admin broadcasts. */
  broadcast: (message: BroadcastMessage) => void
  /** Every message, after the typed event. */
  message: (message: ServerMessage | BroadcastMessage) => void
  state: (state: ConnectionState) => void
  /** The token was refreshed over HTTP before it expired; persist it if you keep sessions. */
  token: (session: SessionResponse) => void
  /**
   * Another tab of this origin signed out of the shared connection (`setToken(null)` there, with
   * `shareAcrossTabs`): this client is signed out too; forget the session.
   */
  signedOut: () => void
}

export interface HeraldClientOptions {
  /** Base URL of Herald, e.g. http://127.0.0.1:3000 (the socket is at /ws on it). */
  url: string
  /** The session token to authenticate with; null connects anonymously (broadcasts only). */
  getToken?: () => string | null | Promise<string | null>
  /** Resume from this seq on the first connection; by default the client starts from "now". */
  since?: number
  /**
   * Refresh the token this long before it expires (default: a tenth of its lifetime, 5 s to 60 s; never
   * more than half of what is left).
   */
  refreshBeforeMs?: number
  minReconnectDelayMs?: number
  maxReconnectDelayMs?: number
  /** A WebSocket implementation (Node before 22); browsers and Bun have one. */
  WebSocket?: unknown
  fetch?: typeof fetch
  /** Connect at once (default true); otherwise call connect(). */
  autoConnect?: boolean
  /**
   * Share one socket among every tab of the origin (default true in browsers; Node and Bun always have one
   * socket per client): a SharedWorker owns it where the browser has one, otherwise the tab elected with the
   * Web Locks API, and each tab's client is a proxy with the same API and events. See the SDK README.
   */
  shareAcrossTabs?: boolean
}

export interface HeraldClient {
  readonly api: HttpApi
  readonly state: ConnectionState
  /** Why the client stopped reconnecting, when state is 'closed'. */
  readonly closedReason: { code: string; message: string } | null
  /** The last notification seq this client has seen. */
  readonly lastSeq: number
  readonly userId: string | null
  on<E extends keyof HeraldClientEvents>(event: E, handler: HeraldClientEvents[E]): () => void
  connect(): void
  /** Closes the socket and stops reconnecting until connect() is called again. */
  disconnect(): void
  /** Signs in or out on the open socket (null: reconnect anonymously). */
  setToken(token: string | null): void
  send(message: { type: string; [key: string]: unknown }): void
  /**
   * Subscribes to a channel (docs/protocol.md §4): `onPublication` gets every publication once, in seq order,
   * across reconnects (the client subscribes again with `since` on every new socket by itself). Several
   * subscriptions to one channel share one on the server.
   */
  subscribe(channel: string, options?: ChannelSubscribeOptions): ChannelSubscription
}
