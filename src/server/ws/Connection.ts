import type { ServerWebSocket } from 'bun'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import type { Scheduled } from './DeadlineHeap'

/**
 * What a connection's deadline means when it passes: `auth`, AUTH_TIMEOUT_SECONDS after opening while
 * anonymous; `expiry`, the token's end (TOKEN_EXPIRED, then the grace period); `grace`, close 4001.
 */
export type Deadline = 'auth' | 'expiry' | 'grace' | null

export interface Replay {
  /** Live notification frames that arrived while the replay was read, sent after it if newer than `until`. */
  buffer: { seq: number; frame: string }[]
  /** The seq the replay reached; null while the database read is in flight. */
  until: number | null
}

/** The hub's side of the transport callbacks; SocketManager implements it. */
export interface ConnectionHandler {
  open(connection: Connection): void
  message(connection: Connection, data: unknown): void
  close(connection: Connection): void
}

export type Socket = ServerWebSocket<Connection>

/**
 * One WebSocket connection, and at the same time the socket's `data`: Elysia's Bun adapter installs one
 * server-wide handler that calls `ws.data.open/message/close`, so with the transport callbacks on this
 * prototype a socket holds nothing but these fields (no per-connection context or closures).
 */
export class Connection implements Scheduled {
  ws: Socket | null = null
  /** The client address per-IP limits count; dropped once it is no longer needed. */
  ip: string | null
  /** A session from `?token=`, handed to the hub at open. */
  preAuthenticated: AuthenticatedSession | null
  /** Counted in anonymousByIp: open and not (yet) authenticated. */
  anonymous = false
  closed = false
  /** In the hub's list of sockets whose send buffer is looked at in the next sweep. */
  suspect = false
  /**
   * An upper bound of the bytes the runtime may hold unsent for this socket: its buffered amount when last
   * read plus every frame sent since (broadcasts are added at the next sweep). Only past the limit is the
   * real amount read, which is far from free.
   */
  unsentBound = 0
  userId: string | null = null
  sessionId: string | null = null
  expiresAt = 0
  deadline = 0
  deadlineKind: Deadline = null
  heapIndex = -1
  replay: Replay | null = null
  /** Resumes queued behind the message being handled: auth then leaves the topic to them. */
  queuedResumes = 0
  /** Messages of one connection are handled one after another; null while none is in progress. */
  queue: Promise<void> | null = null
  tokens: number
  refilledAt: number

  constructor(
    private readonly handler: ConnectionHandler,
    /** Shown to the client as its connectionId (see SocketManager.connectionId). */
    readonly serial: number,
    ip: string,
    preAuthenticated: AuthenticatedSession | null,
    tokens: number,
  ) {
    this.ip = ip
    this.preAuthenticated = preAuthenticated
    this.tokens = tokens
    this.refilledAt = performance.now()
  }

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
}

/** A text frame's JSON, or the frame itself when it is not JSON (the hub answers INVALID_MESSAGE). */
function parseFrame(raw: string | Buffer): unknown {
  if (typeof raw !== 'string') return raw
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}
