import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Server } from 'bun'
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
import type { AuthenticatedSession } from '../auth/authenticateToken'
import type { Bus, BusEvent } from '../bus/types'
import type { ErrorReporter } from '../errors'
import { createRateLimiter, type RateLimiter } from '../http/createRateLimiter'
import type { Metrics } from '../metrics/createMetrics'
import { Connection, type ConnectionHandler } from './Connection'
import { DeadlineHeap } from './DeadlineHeap'

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

/** Per user on this instance: the connections, and the sequencer that keeps notifications in seq order. */
interface UserState {
  /** The user's topic name, kept so a send does not build it again. */
  topic: string
  /** A handful at most (MAX_CONNECTIONS_PER_USER): an array is smaller and faster than a Set. */
  connections: Connection[]
  /** How many of them are replaying (off the topic, collecting live frames). */
  replaying: number
  /** The last seq pushed to this user's connections here. */
  lastSeq: number
  /** Notifications that arrived ahead of a missing seq; created when the first one does. */
  pending: Map<number, Notification> | null
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
const SWEEP_MS = 1000
const RESOLVED: Promise<void> = Promise.resolve()
/** Most bytes a text frame can take: 3 UTF-8 bytes per UTF-16 unit, and the largest server frame header. */
const frameBytesBound = (frame: string) => frame.length * 3 + 10

/**
 * The WebSocket hub. Fan-out uses Bun's native topics ("all" and one per user) so a broadcast to thousands
 * is one call into native code. Every push arrives through the bus, so this class behaves the same with one
 * instance or many. Idle connections cost no work: deadlines share one timer, and send buffers are only
 * looked at after something was sent.
 */
export class SocketManager implements ConnectionHandler {
  private readonly connections = new Set<Connection>()
  private readonly users = new Map<string, UserState>()
  private readonly anonymousByIp = new Map<string, number>()
  /** Messages per user across their connections, on top of each connection's own bucket. */
  private readonly userMessages: RateLimiter
  private server: Server<unknown> | null = null
  private unsubscribe: (() => void) | null = null
  private readonly gapFillMs: number
  /** Token expiries, grace periods and authentication deadlines of every connection, behind one timer. */
  private readonly deadlines = new DeadlineHeap<Connection>()
  private deadlineTimer: Timer | null = null
  private deadlineTimerAt = Number.POSITIVE_INFINITY
  /** Connections whose unsentBound passed the limit: the next sweep reads their real buffered amount. */
  private suspects: Connection[] = []
  /**
   * Bound of the bytes broadcast since they were last added to every connection's unsentBound: that pass over
   * all connections waits until it could find one past the limit (`maxUnsentBound` is at least the largest
   * unsentBound), so broadcasts cost nothing per connection here either.
   */
  private broadcastBytes = 0
  private maxUnsentBound = 0
  private sweepTimer: Timer | null = null
  private nextSerial = 0
  /** connectionId = this instance's random prefix and a counter: unique without a UUID per socket. */
  private readonly idPrefix = crypto.randomUUID().slice(0, 8)

  constructor(private readonly deps: SocketManagerDeps) {
    this.gapFillMs = deps.options.gapFillMs ?? 1000
    const perUser = deps.options.wsUserMessagesPerSecond
    this.userMessages = createRateLimiter({ ratePerSecond: perUser, burst: perUser * 2 })
  }

  // ── Public surface ───────────────────────────────────────────────────────────────────────────────

  /** Pushes a message to every connection of a user, on every instance. */
  sendToUser(userId: string, message: ServerMessage): Promise<void> {
    // Not async: on the in-process bus a send is then one synchronous call, without promises per message.
    if (message.type === 'notification')
      return this.deps.bus.publish({ kind: 'notification', userId, notification: message.notification })
    return this.deps.bus.publish({ kind: 'user', userId, message })
  }

  /** Pushes a message, as it is, to every open connection on every instance. */
  sendToAll(message: BroadcastMessage): Promise<void> {
    return this.deps.bus.publish({ kind: 'broadcast', message })
  }

  getUserConnectionCount(userId: string): number {
    return this.users.get(userId)?.connections.length ?? 0
  }

  get connectionCount(): number {
    return this.connections.size
  }

  get authenticatedUserCount(): number {
    return this.users.size
  }

  /** The socket's `data` for a new upgrade (see Connection); `ip` is the address per-IP limits count. */
  createConnection(ip: string, preAuthenticated: AuthenticatedSession | null): Connection {
    this.nextSerial = (this.nextSerial + 1) % 2 ** 32
    return new Connection(
      this,
      this.nextSerial,
      ip,
      preAuthenticated,
      this.deps.options.wsMessagesPerSecond * 2,
    )
  }

  start(server: Server<unknown>): void {
    this.server = server
    if (!this.unsubscribe) {
      this.unsubscribe = this.deps.bus.subscribe({
        onEvent: (event) => this.onBusEvent(event),
        onResync: () => this.resyncAll(),
      })
    }
  }

  /** Stops taking bus events and closes every socket with 1001 so clients resume elsewhere. */
  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = null
    for (const connection of [...this.connections]) {
      this.closeConnection(connection, CloseCode.goingAway, 'server shutting down')
    }
    if (this.sweepTimer) clearTimeout(this.sweepTimer)
    this.sweepTimer = null
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer)
    this.deadlineTimer = null
    this.deadlineTimerAt = Number.POSITIVE_INFINITY
  }

  // ── Transport callbacks (called by the Connection, the socket's data) ─────────────────────────────

  open(connection: Connection): void {
    const preAuthenticated = connection.preAuthenticated
    connection.preAuthenticated = null
    if (this.connections.size >= this.deps.options.maxConnections) {
      this.reject(connection, 'CONNECTION_LIMIT_TOTAL_EXCEEDED', 'This server is at its connection limit.')
      return
    }
    if (preAuthenticated) connection.ip = null
    else {
      // Anonymous sockets are allowed (broadcasts only) but bounded per address. The client should retry
      // later, which the SDK does after 4008 (4029 is final for it).
      const ip = connection.ip ?? 'unknown'
      const anonymous = this.anonymousByIp.get(ip) ?? 0
      if (anonymous >= this.deps.options.maxAnonymousConnectionsPerIp) {
        this.deps.metrics.rateLimited.inc({ limit: 'ws_anonymous' })
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
      if (timeout > 0) this.setDeadline(connection, 'auth', Date.now() + timeout * 1000)
    }
    this.connections.add(connection)
    this.deps.metrics.connections.set(this.connections.size)
    connection.ws!.subscribe(ALL)
    this.send(connection, {
      type: 'connected',
      connectionId: this.connectionId(connection),
      timestamp: new Date().toISOString(),
    })
    if (preAuthenticated) this.enqueue(connection, () => this.completeAuth(connection, preAuthenticated))
  }

  message(connection: Connection, data: unknown): void {
    if (connection.closed) return
    if (!this.takeToken(connection)) {
      this.deps.metrics.rateLimited.inc({ limit: 'ws_messages' })
      this.reject(connection, 'RATE_LIMITED', 'Too many messages; slow down.', CloseCode.rateLimited)
      return
    }
    if (connection.userId !== null && this.userMessages.take(connection.userId) > 0) {
      this.deps.metrics.rateLimited.inc({ limit: 'ws_user_messages' })
      this.reject(
        connection,
        'RATE_LIMITED',
        "Too many messages from this user's connections together; slow down.",
        CloseCode.rateLimited,
      )
      return
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data) || Buffer.isBuffer(data)) {
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

  close(connection: Connection): void {
    this.forget(connection)
  }

  // ── Authentication ───────────────────────────────────────────────────────────────────────────────

  private async handleAuth(connection: Connection, token: string): Promise<void> {
    let session: AuthenticatedSession | null
    try {
      session = await this.deps.authenticate(token)
    } catch (error) {
      // The token could not be checked (the database is unreachable): an unanswered auth would leave the
      // client waiting. 1013 makes it reconnect later, authenticate and resume, so nothing is lost.
      this.deps.onError(error, `authenticating connection ${this.connectionId(connection)}`)
      this.closeConnection(connection, CloseCode.tryAgainLater, 'try again later')
      return
    }
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
    if (connection.closed) return
    if (connection.userId === null) {
      const existing = this.users.get(session.userId)
      if (existing && existing.connections.length >= this.deps.options.maxConnectionsPerUser) {
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
          topic: userTopic(session.userId),
          connections: [],
          replaying: 0,
          lastSeq: session.lastSeq,
          pending: null,
          gapTimer: null,
          filling: false,
        }
        this.users.set(session.userId, state)
        this.deps.metrics.authenticatedUsers.set(this.users.size)
      }
      state.connections.push(connection)
      connection.userId = session.userId
      this.leaveAnonymous(connection)
      // With a resume right behind, joining the topic now could push a live notification that the replay
      // then sends again: the resume joins it when its replay is done.
      if (connection.queuedResumes === 0) connection.ws!.subscribe(state.topic)
    }
    connection.sessionId = session.sessionId
    connection.expiresAt = session.expiresAt
    this.setDeadline(connection, 'expiry', session.expiresAt)
    this.send(connection, {
      type: 'authenticated',
      userId: session.userId,
      address: session.address,
      expiresAt: new Date(session.expiresAt).toISOString(),
    })
  }

  // ── Deadlines ────────────────────────────────────────────────────────────────────────────────────

  private setDeadline(connection: Connection, kind: Connection['deadlineKind'], at: number): void {
    connection.deadlineKind = kind
    this.deadlines.schedule(connection, at)
    if (at < this.deadlineTimerAt) this.armDeadlineTimer()
  }

  private clearDeadline(connection: Connection): void {
    connection.deadlineKind = null
    // The shared timer stays armed: when it fires with nothing due it re-arms for the next deadline.
    this.deadlines.remove(connection)
  }

  private armDeadlineTimer(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer)
    this.deadlineTimer = null
    this.deadlineTimerAt = Number.POSITIVE_INFINITY
    const next = this.deadlines.peek()
    if (!next) return
    const delay = Math.min(MAX_TIMER, Math.max(0, next.deadline - Date.now()))
    this.deadlineTimerAt = Date.now() + delay
    this.deadlineTimer = setTimeout(() => this.runDeadlines(), delay)
  }

  private runDeadlines(): void {
    this.deadlineTimer = null
    this.deadlineTimerAt = Number.POSITIVE_INFINITY
    const now = Date.now()
    for (let connection = this.deadlines.popDue(now); connection; connection = this.deadlines.popDue(now)) {
      const kind = connection.deadlineKind
      connection.deadlineKind = null
      if (connection.closed) continue
      if (kind === 'auth') {
        if (connection.userId === null) {
          const timeout = this.deps.options.authTimeoutSeconds
          this.reject(
            connection,
            'UNAUTHORIZED',
            `Authenticate within ${timeout} s of connecting.`,
            CloseCode.unauthorized,
          )
        }
      } else if (kind === 'expiry') {
        const grace = this.deps.options.tokenExpiryGraceSeconds
        this.sendError(connection, 'TOKEN_EXPIRED', `The token expired; send a fresh auth within ${grace} s.`)
        this.reschedule(connection, 'grace', now + grace * 1000)
      } else if (kind === 'grace') {
        this.closeConnection(connection, CloseCode.unauthorized, 'token expired')
      }
    }
    this.armDeadlineTimer()
  }

  /** Schedules without re-arming: runDeadlines arms the timer once when it is done. */
  private reschedule(connection: Connection, kind: Connection['deadlineKind'], at: number): void {
    connection.deadlineKind = kind
    this.deadlines.schedule(connection, at)
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
    if (connection.closed) return
    const state = this.users.get(userId)!
    if (connection.replay) return
    this.startReplay(connection, state)
    const replay = connection.replay!
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
      this.endReplay(connection, state)
      connection.ws!.subscribe(state.topic)
      this.sendError(connection, 'UNAVAILABLE', 'Resume is unavailable right now; try again shortly.')
      return
    }
    let until: number
    if (rows.length > cap || (latest !== null && since > latest)) {
      // Too far behind, or ahead of anything this server has stored: the client re-fetches over HTTP.
      until = latest!
      this.send(connection, { type: 'reset', seq: until })
    } else {
      until = rows.length > 0 ? rows[rows.length - 1]!.seq : since
      connection.ws!.cork(() => {
        for (const notification of rows) {
          this.sendFrame(connection, JSON.stringify({ type: 'notification', notification }))
        }
        this.send(connection, { type: 'resumed', since, replayed: rows.length, seq: until })
      })
      // What the replay read is committed; the sequencer may take it, so other connections need not wait.
      for (const notification of rows) this.sequence(userId, state, notification)
    }
    replay.until = until
    if (state.lastSeq >= until) this.finishReplay(connection, state)
    else this.scheduleGapFill(userId, state)
  }

  private startReplay(connection: Connection, state: UserState): void {
    connection.replay = { buffer: [], until: null }
    state.replaying++
    connection.ws!.unsubscribe(state.topic)
  }

  private endReplay(connection: Connection, state: UserState): void {
    if (!connection.replay) return
    connection.replay = null
    state.replaying--
  }

  private finishReplay(connection: Connection, state: UserState): void {
    const replay = connection.replay
    if (!replay || replay.until === null || connection.closed) return
    this.endReplay(connection, state)
    connection.ws!.cork(() => {
      for (const item of replay.buffer) if (item.seq > replay.until!) this.sendFrame(connection, item.frame)
    })
    connection.ws!.subscribe(state.topic)
  }

  // ── Bus events ───────────────────────────────────────────────────────────────────────────────────

  private onBusEvent(event: BusEvent): void {
    switch (event.kind) {
      case 'broadcast': {
        // Every open connection is subscribed to "all": the count is known without asking the server.
        const receivers = this.connections.size
        if (receivers === 0) return
        const frame = JSON.stringify(event.message)
        this.server?.publish(ALL, frame)
        this.deps.metrics.countSent(receivers)
        this.broadcastBytes += frameBytesBound(frame)
        if (this.broadcastBytes + this.maxUnsentBound > this.deps.options.sendBufferLimitBytes)
          this.scheduleSweep()
        return
      }
      case 'user': {
        const state = this.users.get(event.userId)
        if (!state) return
        const frame = JSON.stringify(event.message)
        this.publishToUser(state, frame)
        if (state.replaying > 0)
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
        const state = this.users.get(event.userId)
        if (!state) return
        for (const connection of [...state.connections]) {
          if (connection.sessionId === event.sessionId)
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
      state.pending ??= new Map()
      state.pending.set(notification.seq, notification)
      this.scheduleGapFill(userId, state)
      return
    }
    this.emit(state, notification)
    const pending = state.pending
    if (!pending) return
    let next = pending.get(state.lastSeq + 1)
    while (next) {
      pending.delete(next.seq)
      this.emit(state, next)
      next = pending.get(state.lastSeq + 1)
    }
    if (pending.size === 0) {
      state.pending = null
      if (state.gapTimer) {
        clearTimeout(state.gapTimer)
        state.gapTimer = null
      }
    }
  }

  private emit(state: UserState, notification: Notification): void {
    state.lastSeq = notification.seq
    const frame = JSON.stringify({ type: 'notification', notification })
    this.publishToUser(state, frame)
    this.deps.metrics.deliveryLatency.observe((Date.now() - Date.parse(notification.createdAt)) / 1000)
    if (state.replaying === 0) return
    for (const connection of [...state.connections]) {
      const replay = connection.replay
      if (!replay) continue
      replay.buffer.push({ seq: notification.seq, frame })
      if (replay.until !== null && state.lastSeq >= replay.until) this.finishReplay(connection, state)
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
    const waiting = state.connections.some((c) => c.replay?.until != null && c.replay.until > state.lastSeq)
    if ((state.pending && state.pending.size > 0) || waiting) this.scheduleGapFill(userId, state)
  }

  /** The bus may have dropped events: every user connected here catches up from the database. */
  private resyncAll(): void {
    for (const [userId, state] of this.users) void this.fillGap(userId, state)
  }

  // ── Sending and closing ──────────────────────────────────────────────────────────────────────────

  /**
   * One frame to the user's subscribed connections. The receivers are counted from what the hub knows
   * (asking the server for the topic's subscriber count costs as much as the publish).
   */
  private publishToUser(state: UserState, frame: string): void {
    const receivers = state.connections.length - state.replaying
    if (receivers <= 0 || !this.server) return
    this.server.publish(state.topic, frame)
    this.deps.metrics.countSent(receivers)
    const bytes = frameBytesBound(frame)
    for (const connection of state.connections) this.addUnsent(connection, bytes)
  }

  private send(connection: Connection, message: ServerMessage): void {
    this.sendFrame(connection, JSON.stringify(message))
  }

  private sendFrame(connection: Connection, frame: string): void {
    if (connection.closed) return
    const result = connection.ws!.send(frame)
    if (result > 0) {
      this.deps.metrics.countSent(1)
      return
    }
    // -1: queued behind unsent data; 0: dropped (the buffer is past backpressureLimit, or the socket closed).
    if (result === 0) {
      this.deps.metrics.sendFailures.inc()
      this.addUnsent(connection, Number.POSITIVE_INFINITY)
    } else {
      this.deps.metrics.countSent(1)
      this.addUnsent(connection, frameBytesBound(frame))
    }
  }

  /** Counts a frame towards the connection's bound; past the limit, the next sweep reads the real amount. */
  private addUnsent(connection: Connection, bytes: number): void {
    const bound = connection.unsentBound + bytes
    connection.unsentBound = bound
    if (bound > this.maxUnsentBound) this.maxUnsentBound = bound
    if (connection.suspect || bound + this.broadcastBytes <= this.deps.options.sendBufferLimitBytes) return
    connection.suspect = true
    this.suspects.push(connection)
    this.scheduleSweep()
  }

  private scheduleSweep(): void {
    if (!this.sweepTimer) this.sweepTimer = setTimeout(() => this.sweepSlowConsumers(), SWEEP_MS)
  }

  /**
   * A client that stops reading would make the server hold its frames forever: it is closed instead. At most
   * once a second, and only for connections that could be past the limit from what was sent to them since
   * their buffer was last read, so idle connections and ones that keep up cost nothing here.
   */
  private sweepSlowConsumers(): void {
    this.sweepTimer = null
    const limit = this.deps.options.sendBufferLimitBytes
    const suspects = this.suspects
    this.suspects = []
    if (this.broadcastBytes + this.maxUnsentBound > limit) {
      const broadcast = this.broadcastBytes
      this.broadcastBytes = 0
      let max = 0
      for (const connection of this.connections) {
        const bound = connection.unsentBound + broadcast
        connection.unsentBound = bound
        if (bound > max) max = bound
        if (!connection.suspect && bound > limit) {
          connection.suspect = true
          suspects.push(connection)
        }
      }
      this.maxUnsentBound = max
    }
    for (const connection of suspects) {
      connection.suspect = false
      if (connection.closed) continue
      const buffered = connection.ws!.getBufferedAmount()
      // Broadcasts not yet added to the bound are in the buffered amount already.
      connection.unsentBound = buffered - this.broadcastBytes
      if (buffered > limit)
        this.closeConnection(connection, CloseCode.slowConsumer, 'send buffer full; resume to catch up')
    }
  }

  private connectionId(connection: Connection): string {
    return this.idPrefix + connection.serial.toString(16).padStart(8, '0')
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
      connection.ws!.close(code, reason)
    } catch {}
  }

  private leaveAnonymous(connection: Connection): void {
    if (connection.deadlineKind === 'auth') this.clearDeadline(connection)
    if (!connection.anonymous) return
    connection.anonymous = false
    const ip = connection.ip ?? 'unknown'
    connection.ip = null
    const left = (this.anonymousByIp.get(ip) ?? 1) - 1
    if (left > 0) this.anonymousByIp.set(ip, left)
    else this.anonymousByIp.delete(ip)
  }

  private forget(connection: Connection): void {
    if (connection.closed) return
    connection.closed = true
    this.leaveAnonymous(connection)
    this.clearDeadline(connection)
    if (this.connections.delete(connection)) this.deps.metrics.connections.set(this.connections.size)
    if (connection.userId) {
      const state = this.users.get(connection.userId)
      if (state) {
        if (connection.replay) this.endReplay(connection, state)
        const index = state.connections.indexOf(connection)
        if (index >= 0) state.connections.splice(index, 1)
        if (state.connections.length === 0) {
          if (state.gapTimer) clearTimeout(state.gapTimer)
          this.users.delete(connection.userId)
          this.deps.metrics.authenticatedUsers.set(this.users.size)
        }
      }
    }
  }

  private enqueue(connection: Connection, task: () => Promise<void> | void): void {
    const next: Promise<void> = (connection.queue ?? RESOLVED)
      .then(task)
      .catch((error) =>
        this.deps.onError(error, `handling a message on connection ${this.connectionId(connection)}`),
      )
      .then(() => {
        // The chain is dropped once it is done, so an idle connection holds no promise.
        if (connection.queue === next) connection.queue = null
      })
    connection.queue = next
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
}
