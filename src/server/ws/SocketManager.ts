import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Server, ServerWebSocket } from 'bun'
import {
  AuthMessageSchema,
  type BroadcastMessage,
  CloseCode,
  type Notification,
  PingMessageSchema,
  ResumeMessageSchema,
  type ServerMessage,
  type WsErrorCode,
} from '../../shared/protocol'
import { createRateLimiter, type RateLimiter } from '../api/createRateLimiter'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import type { Bus, BusEvent } from '../bus/types'
import type { ErrorReporter } from '../errors'
import type { Metrics } from '../metrics/createMetrics'

export interface SocketManagerOptions {
  maxConnections: number
  maxConnectionsPerUser: number
  tokenExpiryGraceSeconds: number
  replayCap: number
  wsMessagesPerSecond: number
  sendBufferLimitBytes: number
  /** 0: unauthenticated connections may stay (they receive broadcasts). */
  authTimeoutSeconds: number
  maxAnonymousConnectionsPerIp: number
  wsUserMessagesPerSecond: number
  /** How long a hole in a user's seqs may stay open before it is filled from the database. */
  gapFillMs?: number
}

export interface SocketManagerDeps {
  bus: Bus
  authenticate(token: string): Promise<AuthenticatedSession | null>
  loadSince(userId: string, since: number, limit: number): Promise<Notification[]>
  latestSeq(userId: string): Promise<number>
  metrics: Metrics
  onError: ErrorReporter
  options: SocketManagerOptions
}

type Socket = ServerWebSocket<unknown>

interface Replay {
  /** Live notification frames that arrived while the replay was read, sent after it if newer than `until`. */
  buffer: { seq: number; frame: string }[]
  /** The seq the replay reached; null while the database read is in flight. */
  until: number | null
}

interface Connection {
  id: string
  ws: Socket
  /** The client address per-IP limits count. */
  ip: string
  /** Counted in anonymousByIp: open and not (yet) authenticated. */
  anonymous: boolean
  authTimer: Timer | null
  userId: string | null
  sessionId: string | null
  expiresAt: number
  expiryTimer: Timer | null
  graceTimer: Timer | null
  replay: Replay | null
  /** Resumes queued behind the message being handled: auth then leaves the topic to them. */
  queuedResumes: number
  /** Messages of one connection are handled one after another, so an auth finishes before a resume. */
  queue: Promise<void>
  tokens: number
  refilledAt: number
  closed: boolean
}

/** Per user on this instance: the connections, and the sequencer that keeps notifications in seq order. */
interface UserState {
  connections: Set<Connection>
  /** The last seq pushed to this user's connections here. */
  lastSeq: number
  /** Notifications that arrived ahead of a missing seq. */
  pending: Map<number, Notification>
  gapTimer: Timer | null
  filling: boolean
}

const checkAuth = TypeCompiler.Compile(AuthMessageSchema)
const checkResume = TypeCompiler.Compile(ResumeMessageSchema)
const checkPing = TypeCompiler.Compile(PingMessageSchema)
const PONG = JSON.stringify({ type: 'pong' })
const ALL = 'all'
const userTopic = (userId: string) => `u:${userId}`
// setTimeout fires at once past 2^31-1 ms; longer waits are re-armed.
const MAX_TIMER = 2 ** 31 - 1

/**
 * The WebSocket hub. Connections are keyed by id; fan-out uses Bun's native topics ("all" and one per user)
 * so a broadcast to thousands is one call into native code. Every push arrives through the bus, so this
 * class behaves the same with one instance or many.
 */
export class SocketManager {
  private readonly connections = new Map<string, Connection>()
  private readonly users = new Map<string, UserState>()
  private readonly sessions = new Map<string, Set<Connection>>()
  private readonly anonymousByIp = new Map<string, number>()
  /** Messages per user across their connections, on top of each connection's own bucket. */
  private readonly userMessages: RateLimiter
  private server: Server<unknown> | null = null
  private unsubscribe: (() => void) | null = null
  private sweepTimer: Timer | null = null
  private readonly gapFillMs: number

  constructor(private readonly deps: SocketManagerDeps) {
    this.gapFillMs = deps.options.gapFillMs ?? 1000
    const perUser = deps.options.wsUserMessagesPerSecond
    this.userMessages = createRateLimiter({ ratePerSecond: perUser, burst: perUser * 2 })
  }

  // ── Public surface ───────────────────────────────────────────────────────────────────────────────

  /** Pushes a message to every connection of a user, on every instance. */
  async sendToUser(userId: string, message: ServerMessage): Promise<void> {
    if (message.type === 'notification')
      await this.deps.bus.publish({ kind: 'notification', userId, notification: message.notification })
    else await this.deps.bus.publish({ kind: 'user', userId, message })
  }

  /** Pushes a message, as it is, to every open connection on every instance. */
  async sendToAll(message: BroadcastMessage): Promise<void> {
    await this.deps.bus.publish({ kind: 'broadcast', message })
  }

  getUserConnectionCount(userId: string): number {
    return this.users.get(userId)?.connections.size ?? 0
  }

  get connectionCount(): number {
    return this.connections.size
  }

  get authenticatedUserCount(): number {
    return this.users.size
  }

  start(server: Server<unknown>): void {
    this.server = server
    if (!this.unsubscribe) {
      this.unsubscribe = this.deps.bus.subscribe({
        onEvent: (event) => this.onBusEvent(event),
        onResync: () => this.resyncAll(),
      })
    }
    if (!this.sweepTimer) this.sweepTimer = setInterval(() => this.sweepSlowConsumers(), 1000)
  }

  /** Stops taking bus events and closes every socket with 1001 so clients resume elsewhere. */
  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = null
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.sweepTimer = null
    for (const connection of [...this.connections.values()]) {
      this.closeConnection(connection, CloseCode.goingAway, 'server shutting down')
    }
  }

  // ── Transport callbacks (called by the route) ──────────────────────────────────────────────────────

  open(ws: Socket, id: string, preAuthenticated: AuthenticatedSession | null, ip: string): void {
    const connection: Connection = {
      id,
      ws,
      ip,
      anonymous: false,
      authTimer: null,
      userId: null,
      sessionId: null,
      expiresAt: 0,
      expiryTimer: null,
      graceTimer: null,
      replay: null,
      queuedResumes: 0,
      queue: Promise.resolve(),
      tokens: this.deps.options.wsMessagesPerSecond * 2,
      refilledAt: performance.now(),
      closed: false,
    }
    if (this.connections.size >= this.deps.options.maxConnections) {
      this.reject(connection, 'CONNECTION_LIMIT_TOTAL_EXCEEDED', 'This server is at its connection limit.')
      return
    }
    if (!preAuthenticated) {
      // Anonymous sockets are allowed (broadcasts only) but bounded per address. The client should retry
      // later, which the SDK does after 4008 (4029 is final for it).
      const anonymous = this.anonymousByIp.get(ip) ?? 0
      if (anonymous >= this.deps.options.maxAnonymousConnectionsPerIp) {
        this.reject(
          connection,
          'RATE_LIMITED',
          'Too many unauthenticated connections from this address; authenticate or close some.',
          CloseCode.rateLimited,
        )
        return
      }
      this.anonymousByIp.set(ip, anonymous + 1)
      connection.anonymous = true
      const timeout = this.deps.options.authTimeoutSeconds
      if (timeout > 0) {
        connection.authTimer = setTimeout(() => {
          connection.authTimer = null
          if (connection.userId === null)
            this.reject(
              connection,
              'UNAUTHORIZED',
              `Authenticate within ${timeout} s of connecting.`,
              CloseCode.unauthorized,
            )
        }, timeout * 1000)
      }
    }
    this.connections.set(id, connection)
    this.deps.metrics.connections.set(this.connections.size)
    ws.subscribe(ALL)
    this.send(connection, { type: 'connected', connectionId: id, timestamp: new Date().toISOString() })
    if (preAuthenticated) this.enqueue(connection, () => this.completeAuth(connection, preAuthenticated))
  }

  message(id: string, data: unknown): void {
    const connection = this.connections.get(id)
    if (!connection || connection.closed) return
    if (!this.takeToken(connection)) {
      this.reject(connection, 'RATE_LIMITED', 'Too many messages; slow down.', CloseCode.rateLimited)
      return
    }
    if (connection.userId !== null && this.userMessages.take(connection.userId) > 0) {
      this.reject(
        connection,
        'RATE_LIMITED',
        "Too many messages from this user's connections together; slow down.",
        CloseCode.rateLimited,
      )
      return
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      this.sendError(
        connection,
        'INVALID_MESSAGE',
        'Each frame must be one JSON object with a string "type".',
      )
      return
    }
    const type = (data as { type?: unknown }).type
    if (type === 'ping') {
      if (checkPing.Check(data)) this.sendFrame(connection, PONG)
      else this.invalid(connection, 'ping takes no fields.')
      return
    }
    if (type === 'auth') {
      if (!checkAuth.Check(data)) {
        this.invalid(connection, 'auth needs a string "token".')
        return
      }
      const token = data.token
      this.enqueue(connection, () => this.handleAuth(connection, token))
      return
    }
    if (type === 'resume') {
      if (!checkResume.Check(data)) {
        this.invalid(connection, 'resume needs "since", a whole number ≥ 0.')
        return
      }
      const since = data.since
      connection.queuedResumes++
      this.enqueue(connection, () => {
        connection.queuedResumes--
        return this.handleResume(connection, since)
      })
      return
    }
    this.invalid(
      connection,
      typeof type === 'string' ? `Unknown message type "${type.slice(0, 40)}".` : 'Missing string "type".',
    )
  }

  close(id: string): void {
    const connection = this.connections.get(id)
    if (connection) this.forget(connection)
  }

  // ── Authentication ───────────────────────────────────────────────────────────────────────────────

  private async handleAuth(connection: Connection, token: string): Promise<void> {
    const session = await this.deps.authenticate(token)
    if (connection.closed) return
    if (!session) {
      this.reject(
        connection,
        'UNAUTHORIZED',
        'The token is invalid, expired or revoked.',
        CloseCode.unauthorized,
      )
      return
    }
    if (connection.userId !== null && connection.userId !== session.userId) {
      this.reject(connection, 'UNAUTHORIZED', 'A connection cannot change user.', CloseCode.unauthorized)
      return
    }
    this.completeAuth(connection, session)
  }

  private completeAuth(connection: Connection, session: AuthenticatedSession): void {
    const refreshing = connection.userId !== null
    if (!refreshing) {
      const existing = this.users.get(session.userId)
      if (existing && existing.connections.size >= this.deps.options.maxConnectionsPerUser) {
        this.reject(
          connection,
          'CONNECTION_LIMIT_PER_USER_EXCEEDED',
          `At most ${this.deps.options.maxConnectionsPerUser} connections per user.`,
        )
        return
      }
      let state = existing
      if (!state) {
        state = {
          connections: new Set(),
          lastSeq: session.lastSeq,
          pending: new Map(),
          gapTimer: null,
          filling: false,
        }
        this.users.set(session.userId, state)
        this.deps.metrics.authenticatedUsers.set(this.users.size)
      }
      state.connections.add(connection)
      connection.userId = session.userId
      this.leaveAnonymous(connection)
      // With a resume right behind, joining the topic now could push a live notification that the replay
      // then sends again: the resume joins it when its replay is done.
      if (connection.queuedResumes === 0) connection.ws.subscribe(userTopic(session.userId))
    }
    if (connection.sessionId !== session.sessionId) {
      if (connection.sessionId) this.sessions.get(connection.sessionId)?.delete(connection)
      connection.sessionId = session.sessionId
      const set = this.sessions.get(session.sessionId)
      if (set) set.add(connection)
      else this.sessions.set(session.sessionId, new Set([connection]))
    }
    connection.expiresAt = session.expiresAt
    this.armExpiry(connection)
    this.send(connection, {
      type: 'authenticated',
      userId: session.userId,
      address: session.address,
      expiresAt: new Date(session.expiresAt).toISOString(),
    })
  }

  private armExpiry(connection: Connection): void {
    if (connection.expiryTimer) clearTimeout(connection.expiryTimer)
    if (connection.graceTimer) clearTimeout(connection.graceTimer)
    connection.graceTimer = null
    const delay = connection.expiresAt - Date.now()
    if (delay > MAX_TIMER) {
      connection.expiryTimer = setTimeout(() => this.armExpiry(connection), MAX_TIMER)
      return
    }
    connection.expiryTimer = setTimeout(
      () => {
        connection.expiryTimer = null
        if (connection.closed) return
        const grace = this.deps.options.tokenExpiryGraceSeconds
        this.sendError(connection, 'TOKEN_EXPIRED', `The token expired; send a fresh auth within ${grace} s.`)
        connection.graceTimer = setTimeout(() => {
          this.closeConnection(connection, CloseCode.unauthorized, 'token expired')
        }, grace * 1000)
      },
      Math.max(0, delay),
    )
  }

  // ── Resume ───────────────────────────────────────────────────────────────────────────────────────

  /**
   * Replays what the client missed, then hands over to live delivery without a gap or a repeat: the
   * connection leaves the user's topic and collects live frames in a buffer before the database is read, so
   * anything committed after the read is in the buffer, and anything before it is in the read.
   */
  private async handleResume(connection: Connection, since: number): Promise<void> {
    const userId = connection.userId
    if (userId === null) {
      this.sendError(connection, 'UNAUTHORIZED', 'Authenticate before resuming.')
      return
    }
    const state = this.users.get(userId)!
    if (connection.replay) return
    connection.replay = { buffer: [], until: null }
    connection.ws.unsubscribe(userTopic(userId))
    const cap = this.deps.options.replayCap
    let rows: Notification[]
    let latest: number | null = null
    try {
      rows = await this.deps.loadSince(userId, since, cap + 1)
      if (rows.length > cap || rows.length === 0) latest = await this.deps.latestSeq(userId)
    } catch (error) {
      this.deps.onError(error, `resume for user ${userId}`)
      rows = []
      latest = null
    }
    if (connection.closed) return
    if (latest === null && rows.length === 0) {
      // The database could not be read: live delivery goes on and the client may resume again.
      connection.replay = null
      connection.ws.subscribe(userTopic(userId))
      this.sendError(connection, 'INVALID_MESSAGE', 'Resume is unavailable right now; try again shortly.')
      return
    }
    let until: number
    if (rows.length > cap || (latest !== null && since > latest)) {
      // Too far behind, or ahead of anything this server has stored: the client re-fetches over HTTP.
      until = latest!
      this.send(connection, { type: 'reset', seq: until })
    } else {
      until = rows.length > 0 ? rows[rows.length - 1]!.seq : since
      connection.ws.cork(() => {
        for (const notification of rows) {
          this.sendFrame(connection, JSON.stringify({ type: 'notification', notification }))
        }
        this.send(connection, { type: 'resumed', since, replayed: rows.length, seq: until })
      })
      // What the replay read is committed; the sequencer may take it, so other connections need not wait.
      for (const notification of rows) this.sequence(userId, state, notification)
    }
    connection.replay.until = until
    if (state.lastSeq >= until) this.finishReplay(connection, userId)
    else this.scheduleGapFill(userId, state)
  }

  private finishReplay(connection: Connection, userId: string): void {
    const replay = connection.replay
    if (!replay || replay.until === null) return
    connection.replay = null
    connection.ws.cork(() => {
      for (const item of replay.buffer) if (item.seq > replay.until!) this.sendFrame(connection, item.frame)
    })
    connection.ws.subscribe(userTopic(userId))
  }

  // ── Bus events ───────────────────────────────────────────────────────────────────────────────────

  private onBusEvent(event: BusEvent): void {
    switch (event.kind) {
      case 'broadcast':
        this.publish(ALL, JSON.stringify(event.message))
        return
      case 'user': {
        const state = this.users.get(event.userId)
        if (!state) return
        const frame = JSON.stringify(event.message)
        this.publish(userTopic(event.userId), frame)
        for (const connection of state.connections) if (connection.replay) this.sendFrame(connection, frame)
        return
      }
      case 'notification': {
        this.deps.metrics.notificationsCreated.inc()
        const state = this.users.get(event.userId)
        if (state) this.sequence(event.userId, state, event.notification)
        return
      }
      case 'session_revoked': {
        const connections = this.sessions.get(event.sessionId)
        if (!connections) return
        for (const connection of [...connections]) {
          this.closeConnection(connection, CloseCode.unauthorized, 'session revoked')
        }
        return
      }
    }
  }

  /** Pushes notifications to a user's connections in seq order, holding any that arrive ahead of a gap. */
  private sequence(userId: string, state: UserState, notification: Notification): void {
    if (notification.seq <= state.lastSeq) return
    if (notification.seq !== state.lastSeq + 1) {
      state.pending.set(notification.seq, notification)
      this.scheduleGapFill(userId, state)
      return
    }
    this.emit(userId, state, notification)
    let next = state.pending.get(state.lastSeq + 1)
    while (next) {
      state.pending.delete(next.seq)
      this.emit(userId, state, next)
      next = state.pending.get(state.lastSeq + 1)
    }
    if (state.pending.size === 0 && state.gapTimer) {
      clearTimeout(state.gapTimer)
      state.gapTimer = null
    }
  }

  private emit(userId: string, state: UserState, notification: Notification): void {
    state.lastSeq = notification.seq
    const frame = JSON.stringify({ type: 'notification', notification })
    this.publish(userTopic(userId), frame)
    this.deps.metrics.deliveryLatency.observe((Date.now() - Date.parse(notification.createdAt)) / 1000)
    for (const connection of state.connections) {
      const replay = connection.replay
      if (!replay) continue
      replay.buffer.push({ seq: notification.seq, frame })
      if (replay.until !== null && state.lastSeq >= replay.until) this.finishReplay(connection, userId)
    }
  }

  private scheduleGapFill(userId: string, state: UserState): void {
    if (state.gapTimer || state.filling) return
    state.gapTimer = setTimeout(() => {
      state.gapTimer = null
      void this.fillGap(userId, state)
    }, this.gapFillMs)
  }

  /** Loads what the bus did not bring (yet) straight from the database, which has every committed row. */
  private async fillGap(userId: string, state: UserState): Promise<void> {
    if (this.users.get(userId) !== state) return
    state.filling = true
    try {
      for (;;) {
        const rows = await this.deps.loadSince(userId, state.lastSeq, 500)
        for (const notification of rows) this.sequence(userId, state, notification)
        if (rows.length < 500 || this.users.get(userId) !== state) break
      }
    } catch (error) {
      this.deps.onError(error, `filling the notification gap of user ${userId}`)
    } finally {
      state.filling = false
    }
    if (this.users.get(userId) !== state) return
    const waiting = [...state.connections].some(
      (c) => c.replay?.until != null && c.replay.until > state.lastSeq,
    )
    if (state.pending.size > 0 || waiting) this.scheduleGapFill(userId, state)
  }

  /** The bus may have dropped events: every user connected here catches up from the database. */
  private resyncAll(): void {
    for (const [userId, state] of this.users) void this.fillGap(userId, state)
  }

  // ── Sending and closing ──────────────────────────────────────────────────────────────────────────

  private publish(topic: string, frame: string): void {
    const server = this.server
    if (!server) return
    const receivers = server.subscriberCount(topic)
    if (receivers === 0) return
    server.publish(topic, frame)
    this.deps.metrics.messagesSent.inc(receivers)
  }

  private send(connection: Connection, message: ServerMessage): void {
    this.sendFrame(connection, JSON.stringify(message))
  }

  private sendFrame(connection: Connection, frame: string): void {
    if (connection.closed) return
    const result = connection.ws.send(frame)
    if (result === 0) this.deps.metrics.sendFailures.inc()
    else this.deps.metrics.messagesSent.inc()
  }

  private sendError(connection: Connection, code: WsErrorCode, message: string): void {
    this.send(connection, { type: 'error', code, message })
  }

  private invalid(connection: Connection, message: string): void {
    this.sendError(connection, 'INVALID_MESSAGE', message)
  }

  private reject(
    connection: Connection,
    code: WsErrorCode,
    message: string,
    closeCode: number = CloseCode.connectionLimit,
  ): void {
    this.sendError(connection, code, message)
    this.closeConnection(connection, closeCode, code)
  }

  private closeConnection(connection: Connection, code: number, reason: string): void {
    if (connection.closed) return
    this.forget(connection)
    try {
      connection.ws.close(code, reason)
    } catch {}
  }

  private leaveAnonymous(connection: Connection): void {
    if (connection.authTimer) clearTimeout(connection.authTimer)
    connection.authTimer = null
    if (!connection.anonymous) return
    connection.anonymous = false
    const left = (this.anonymousByIp.get(connection.ip) ?? 1) - 1
    if (left > 0) this.anonymousByIp.set(connection.ip, left)
    else this.anonymousByIp.delete(connection.ip)
  }

  private forget(connection: Connection): void {
    if (connection.closed) return
    connection.closed = true
    this.leaveAnonymous(connection)
    if (connection.expiryTimer) clearTimeout(connection.expiryTimer)
    if (connection.graceTimer) clearTimeout(connection.graceTimer)
    if (this.connections.get(connection.id) === connection) this.connections.delete(connection.id)
    this.deps.metrics.connections.set(this.connections.size)
    if (connection.sessionId) {
      const set = this.sessions.get(connection.sessionId)
      set?.delete(connection)
      if (set?.size === 0) this.sessions.delete(connection.sessionId)
    }
    if (connection.userId) {
      const state = this.users.get(connection.userId)
      state?.connections.delete(connection)
      if (state && state.connections.size === 0) {
        if (state.gapTimer) clearTimeout(state.gapTimer)
        this.users.delete(connection.userId)
        this.deps.metrics.authenticatedUsers.set(this.users.size)
      }
    }
  }

  private enqueue(connection: Connection, task: () => Promise<void> | void): void {
    connection.queue = connection.queue
      .then(task)
      .catch((error) => this.deps.onError(error, `handling a message on connection ${connection.id}`))
  }

  /** Token bucket: wsMessagesPerSecond sustained, twice that in a burst. */
  private takeToken(connection: Connection): boolean {
    const rate = this.deps.options.wsMessagesPerSecond
    const now = performance.now()
    connection.tokens = Math.min(rate * 2, connection.tokens + ((now - connection.refilledAt) / 1000) * rate)
    connection.refilledAt = now
    if (connection.tokens < 1) return false
    connection.tokens -= 1
    return true
  }

  /** A client that stops reading would make the server hold its frames forever: it is closed instead. */
  private sweepSlowConsumers(): void {
    const limit = this.deps.options.sendBufferLimitBytes
    for (const connection of this.connections.values()) {
      if (connection.ws.getBufferedAmount() > limit) {
        this.closeConnection(connection, CloseCode.slowConsumer, 'send buffer full; resume to catch up')
      }
    }
  }
}
