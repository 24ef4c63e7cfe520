import type { ServerWebSocket } from 'bun'
import type { ChannelMember, ChannelNamespace } from '../../shared/protocol'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import type { Scheduled } from './DeadlineHeap'

/**
 * What a connection's deadline means when it passes: `auth`, AUTH_TIMEOUT_SECONDS after opening while
 * anonymous; `expiry`, the token's end (TOKEN_EXPIRED, then the grace period); `grace`, close 4001.
 */
export type Deadline = 'auth' | 'expiry' | 'grace' | null

/** The hub's side of the transport callbacks. */
export interface ConnectionHandler {
  open(connection: Connection): void
  message(connection: Connection, data: unknown): void
  close(connection: Connection): void
}

export type Socket = ServerWebSocket<Connection>

/** One channel a connection is subscribed to (the channel room, ./channelRoom.ts, keeps them). */
export interface ChannelSubscription {
  /** The channel's canonical name. */
  readonly name: string
  readonly namespace: ChannelNamespace
  /** Who presence counts this connection as on the channel (null: anonymous), once `counted`. */
  member: ChannelMember | null
  counted: boolean
  /** Cancels the unsubscription at the subscription token's expiry. */
  cancelExpiry: (() => void) | null
  /** For `holders:` channels: the token whose balance keeps the right. */
  heldToken: string | null
}

const RESOLVED: Promise<void> = Promise.resolve()

/**
 * One WebSocket connection, and at the same time the socket's `data`: Elysia's Bun adapter installs one
 * server-wide handler that calls `ws.data.open/message/close`, so with the transport callbacks on this
 * prototype a socket holds nothing but these fields (no per-connection context or closures).
 *
 * Its state changes only through its methods; each field is read by the room that owns it: the admission
 * (`ip`, `anonymous`), the authenticator (`userId`, `address`, `sessionId`, `expiresAt`, the deadline fields,
 * which its DeadlineHeap keeps), the slow-consumer sweep (`unsentBound`), the router (the message
 * bucket and queue), the channel room (`channels`).
 */
export class Connection implements Scheduled {
  ws: Socket | null = null
  /** The client address per-IP limits count; dropped once it is no longer needed. */
  ip: string | null
  /** A session from `?token=`, handed to the hub at open. */
  private preAuthenticated: AuthenticatedSession | null
  /** Counted in the admission's anonymous connections per IP: open and not (yet) authenticated. */
  anonymous = false
  closed = false
  /**
   * An upper bound of the bytes the runtime may hold unsent for this socket: its buffered amount when last
   * read plus every frame sent since (broadcasts are added at the next sweep). Only past the limit is the
   * real amount read, which is far from free.
   */
  unsentBound = 0
  userId: string | null = null
  /** The signed-in user's address (checksummed). */
  address: string | null = null
  sessionId: string | null = null
  expiresAt = 0
  deadline = 0
  deadlineKind: Deadline = null
  heapIndex = -1
  /** Resumes queued behind the message being handled: auth then leaves the topic to them. */
  queuedResumes = 0
  /** The channels this connection is subscribed to, by canonical name; null while none. */
  channels: Map<string, ChannelSubscription> | null = null
  /** Messages of one connection are handled one after another; null while none is in progress. */
  private queue: Promise<void> | null = null
  /** The connection's message bucket (WS_MESSAGES_PER_SECOND), a TokenBucket the router takes from. */
  tokens: number
  refilledAt: number

  constructor(
    private readonly handler: ConnectionHandler,
    /** Shown to the client in its connectionId. */
    readonly serial: number,
    ip: string,
    preAuthenticated: AuthenticatedSession | null,
    tokens: number,
    now: number,
  ) {
    this.ip = ip
    this.preAuthenticated = preAuthenticated
    this.tokens = tokens
    this.refilledAt = now
  }

  // Transport callbacks (Bun calls them through Elysia's server-wide handler).

  open(ws: Socket): void {
    this.ws = ws
    this.handler.open(this)
  }

  message(_ws: Socket, raw: string | Buffer): void {
    this.handler.message(this, parseFrame(raw))
  }

  close(): void {
    this.handler.close(this)
  }

  // State changes.

  /** The session the upgrade authenticated, once. */
  takePreAuthenticated(): AuthenticatedSession | null {
    const session = this.preAuthenticated
    this.preAuthenticated = null
    return session
  }

  /** Marks the connection closed; false when it already was (everything after a close happens once). */
  markClosed(): boolean {
    if (this.closed) return false
    this.closed = true
    return true
  }

  markAnonymous(): void {
    this.anonymous = true
  }

  /** Ends the anonymous phase; answers the IP it was counted under, or null when it was not counted. */
  leaveAnonymous(): string | null {
    if (!this.anonymous) return null
    this.anonymous = false
    const ip = this.ip ?? 'unknown'
    this.ip = null
    return ip
  }

  /** Takes the session's identity; the user never changes once set (the authenticator refuses another). */
  signIn(session: AuthenticatedSession): void {
    this.userId ??= session.userId
    this.address ??= session.address
    this.sessionId = session.sessionId
    this.expiresAt = session.expiresAt
    // Authenticated from the start: per-IP limits no longer apply.
    if (!this.anonymous) this.ip = null
  }

  /** Runs `task` after the messages before it; a failure goes to `onError`. */
  enqueue(task: () => Promise<void> | void, onError: (error: unknown) => void): void {
    const next: Promise<void> = (this.queue ?? RESOLVED)
      .then(task)
      .catch(onError)
      .then(() => {
        // The chain is dropped once it is done, so an idle connection holds no promise.
        if (this.queue === next) this.queue = null
      })
    this.queue = next
  }
}

/** A text frame's JSON, or the frame itself when it is not JSON (the router answers INVALID_MESSAGE). */
function parseFrame(raw: string | Buffer): unknown {
  if (typeof raw !== 'string') return raw
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}
