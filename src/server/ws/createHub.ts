import type { Server } from 'bun'
import type {
  BroadcastMessage,
  Notification,
  Publication,
  ServerMessage,
  WsErrorCode,
} from '../../shared/protocol'
import { CloseCode } from '../../shared/protocol'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import type { TokenClaims } from '../auth/createTokenService'
import { channelTopic, userTopic } from '../bus/busTopics'
import type { Bus, BusEvent } from '../bus/types'
import type { ChannelRights } from '../channels/channelRights'
import type { ChannelStore } from '../channels/createChannelStore'
import type { Presence } from '../channels/createPresence'
import type { Config } from '../config/loadConfig'
import type { ErrorReporter } from '../errors'
import type { Metrics } from '../metrics/createMetrics'
import { createStreamDelivery, type StreamSource } from '../streams/delivery'
import type { Clock } from '../time/clock'
import { createAdmission, type Refusal } from './admission'
import { createAuthenticator } from './authenticator'
import { Connection, type ConnectionHandler } from './Connection'
import { createChannelRoom } from './channelRoom'
import { createFrameRouter } from './router'
import { createSlowConsumerSweep } from './slowConsumers'
import { createTransport } from './transport'

/** The settings the hub reads, by their configuration names. */
export type HubConfig = Pick<
  Config,
  | 'maxConnections'
  | 'maxConnectionsPerUser'
  | 'maxAnonymousConnectionsPerIp'
  | 'tokenExpiryGraceSeconds'
  | 'authTimeoutSeconds'
  | 'replayCap'
  | 'wsMessagesPerSecond'
  | 'wsUserMessagesPerSecond'
  | 'sendBufferLimitBytes'
  | 'maxSubscriptionsPerConnection'
  | 'maxPublicationBytes'
  | 'channelPublishesPerSecond'
>

export interface HubDeps {
  bus: Bus
  /** A token's signature and expiry. */
  verify(token: string): Promise<TokenClaims | null>
  /** A verified token's session (and the user's latest seq); null when revoked or over. */
  check(claims: TokenClaims): Promise<AuthenticatedSession | null>
  /**
   * Whether a session was revoked since its token was checked at the upgrade (`?token=`): the revocation's bus
   * event may have come between the check and the socket's open, when it had no connection here to close.
   */
  isRevoked?(sessionId: string): boolean
  /** The users' inboxes, as the stream core reads them. */
  inbox: StreamSource<Notification>
  /** Channels: their publications (stored and read), the rights of their namespaces, and presence. */
  channels: {
    store: Pick<ChannelStore, 'publish' | 'source'>
    rights: ChannelRights
    presence: Presence
    /** How often `holders:` balances are read again (default 60 s). */
    holderRecheckMs?: number
  }
  metrics: Metrics
  onError: ErrorReporter
  clock: Clock
  config: HubConfig
  /** A user's authenticated connections on this instance changed (Web Push tells away users from present ones). */
  onUserConnections?(userId: string, connections: number): void
}

export interface Hub extends ConnectionHandler {
  /** Pushes a message (not stored) to every connection of a user, on every instance. */
  sendToUser(userId: string, message: ServerMessage): Promise<void>
  /** Pushes a message, as it is, to every open connection on every instance. */
  sendToAll(message: BroadcastMessage): Promise<void>
  /** The user's connections on this instance. */
  getUserConnectionCount(userId: string): number
  readonly connectionCount: number
  readonly authenticatedUserCount: number
  /** The socket's `data` for a new upgrade (see Connection); `ip` is the address per-IP limits count. */
  createConnection(ip: string, preAuthenticated: AuthenticatedSession | null): Connection
  /** Takes bus events; `server` (or a later `attach`) is where the sockets live. */
  start(server?: Server<unknown>): void
  /** The server the sockets are upgraded on: topics are published on it. */
  attach(server: Server<unknown>): void
  /** Stops taking bus events and closes every socket with 1001 so clients resume elsewhere. */
  stop(): void
}

const PONG = JSON.stringify({ type: 'pong' })

/**
 * The WebSocket hub: its rooms wired together. Admission (connection limits), the frame router (rate limits,
 * schemas, dispatch), the authenticator (sign-in, refresh, deadlines), the stream core's delivery of each
 * user's inbox (ordering, gap filling, replay), the channel room (subscriptions, rights, publications,
 * presence), the slow-consumer sweep, all over one transport (Bun's native topics). Every push arrives through the bus, so the hub behaves the same with one instance or many.
 */
export function createHub(deps: HubDeps): Hub {
  const { bus, metrics, onError, clock, config } = deps
  const connections = new Set<Connection>()
  let nextSerial = 0
  /** connectionId = this instance's random prefix and a counter: unique without a UUID per socket. */
  const idPrefix = crypto.randomUUID().slice(0, 8)
  const connectionId = (connection: Connection) => idPrefix + connection.serial.toString(16).padStart(8, '0')
  let unsubscribe: (() => void) | null = null

  const sweep = createSlowConsumerSweep({
    limitBytes: config.sendBufferLimitBytes,
    connections: () => connections,
    close: (connection) => close(connection, CloseCode.slowConsumer, 'send buffer full; resume to catch up'),
    schedule: clock.schedule,
  })
  const transport = createTransport({ metrics, sweep })
  const inbox = createStreamDelivery<Connection, Notification>({
    topicPrefix: 'u:',
    frame: (_, notification) => JSON.stringify({ type: 'notification', notification }),
    source: deps.inbox,
    transport,
    onError,
    onEmit: (notification) =>
      metrics.deliveryLatency.observe((clock.now() - Date.parse(notification.createdAt)) / 1000),
    schedule: clock.schedule,
    // A bus that delivers only what is followed (Redis sharded): the shards of the users held here.
    ...(bus.follow && {
      onStart: (userId: string) => bus.follow?.(userTopic(userId)),
      onStop: (userId: string) => bus.unfollow?.(userTopic(userId)),
    }),
  })
  const channels = createChannelRoom({
    ...deps.channels,
    follow: bus.follow && {
      start: (channel) => bus.follow?.(channelTopic(channel)),
      stop: (channel) => bus.unfollow?.(channelTopic(channel)),
    },
    transport,
    clock,
    onError,
    onRateLimited: () => metrics.rateLimited.inc({ limit: 'ws_channel_publish' }),
    config,
  })
  const admission = createAdmission({
    maxConnections: config.maxConnections,
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    maxAnonymousConnectionsPerIp: config.maxAnonymousConnectionsPerIp,
    onAnonymousLimited: () => metrics.rateLimited.inc({ limit: 'ws_anonymous' }),
  })

  const send = (connection: Connection, message: ServerMessage) =>
    transport.send(connection, JSON.stringify(message))
  const sendError = (connection: Connection, code: WsErrorCode, message: string) =>
    send(connection, { type: 'error', code, message })

  /** Everything a closed connection held here is let go, once. */
  const forget = (connection: Connection) => {
    if (!connection.markClosed()) return
    admission.leaveAnonymous(connection)
    authenticator.forget(connection)
    channels.forget(connection)
    connections.delete(connection)
    if (connection.userId !== null) {
      inbox.leave(connection, connection.userId)
      deps.onUserConnections?.(connection.userId, inbox.members(connection.userId).length)
    }
  }
  const close = (connection: Connection, code: number, reason: string) => {
    if (connection.closed) return
    forget(connection)
    transport.close(connection, code, reason)
  }
  const refuse = (connection: Connection, refusal: Refusal) => {
    sendError(connection, refusal.code, refusal.message)
    close(connection, refusal.close, refusal.code)
  }

  const authenticator = createAuthenticator({
    verify: deps.verify,
    check: deps.check,
    hold: (userId) => inbox.hold(userId),
    release: (userId) => inbox.release(userId),
    admit(connection, session, held) {
      const refusal = admission.admitUser(inbox.members(session.userId).length)
      if (refusal) {
        if (held) inbox.release(session.userId)
        refuse(connection, refusal)
        return false
      }
      admission.leaveAnonymous(connection)
      // With a resume right behind, joining the topic now could push a live notification that the replay
      // then sends again: the resume brings the connection to the topic when its replay is done.
      inbox.join(connection, session.userId, {
        base: session.lastSeq,
        held,
        live: connection.queuedResumes === 0,
        catchUp: !held,
      })
      deps.onUserConnections?.(session.userId, inbox.members(session.userId).length)
      return true
    },
    signedIn: (connection) => channels.signedIn(connection),
    send,
    refuse,
    close,
    clock,
    authTimeoutSeconds: config.authTimeoutSeconds,
    tokenExpiryGraceSeconds: config.tokenExpiryGraceSeconds,
    onError,
  })

  const replayFrames = {
    cap: config.replayCap,
    replayed: (since: number, replayed: number, seq: number) =>
      JSON.stringify({ type: 'resumed', since, replayed, seq }),
    reset: (seq: number) => JSON.stringify({ type: 'reset', seq }),
  }

  const route = createFrameRouter({
    handlers: {
      ping: (connection) => transport.send(connection, PONG),
      auth: (connection, token) => authenticator.authenticate(connection, token),
      async resume(connection, since) {
        if (connection.userId === null) {
          sendError(connection, 'UNAUTHORIZED', 'Authenticate before resuming.')
          return
        }
        if (connection.closed) return
        const outcome = await inbox.replay(connection, connection.userId, since, replayFrames)
        // The database could not be read: live delivery goes on and the client asks again.
        if (outcome.kind === 'unavailable')
          sendError(connection, 'UNAVAILABLE', 'Resume is unavailable right now; try again shortly.')
      },
      subscribe: (connection, message) => channels.subscribe(connection, message),
      unsubscribe: (connection, channel) => channels.unsubscribe(connection, channel),
      publish: (connection, message) => channels.publish(connection, message),
      presence: (connection, channel) => channels.presence(connection, channel),
    },
    invalid: (connection, message) => sendError(connection, 'INVALID_MESSAGE', message),
    refuse,
    onRateLimited: (limit) => metrics.rateLimited.inc({ limit }),
    onError: (error, connection) =>
      onError(error, `handling a message on connection ${connectionId(connection)}`),
    clock,
    messagesPerSecond: config.wsMessagesPerSecond,
    userMessagesPerSecond: config.wsUserMessagesPerSecond,
  })

  const onBusEvent = (event: BusEvent) => {
    switch (event.kind) {
      case 'item':
        if (event.stream === 'channel') {
          channels.onItem(event.key, event.item as Publication)
          return
        }
        metrics.notificationsCreated.inc()
        inbox.onItem(event.key, event.item as Notification)
        return
      case 'holder_check':
        channels.holderCheck(event.token, event.address)
        return
      case 'user':
        inbox.deliver(event.userId, JSON.stringify(event.message))
        return
      case 'broadcast':
        // Every open connection is subscribed to "all": the count is known without asking the server.
        transport.broadcast(JSON.stringify(event.message), connections.size)
        return
      case 'session_revoked':
        for (const connection of [...inbox.members(event.userId)])
          if (connection.sessionId === event.sessionId)
            close(connection, CloseCode.unauthorized, 'session revoked')
        return
    }
  }

  return {
    sendToUser: (userId, message) => bus.announce({ kind: 'user', userId, message }),
    sendToAll: (message) => bus.announce({ kind: 'broadcast', message }),
    getUserConnectionCount: (userId) => inbox.members(userId).length,
    get connectionCount() {
      return connections.size
    },
    get authenticatedUserCount() {
      return inbox.size
    },
    createConnection(ip, preAuthenticated) {
      nextSerial = (nextSerial + 1) % 2 ** 32
      return new Connection(
        this,
        nextSerial,
        ip,
        preAuthenticated,
        config.wsMessagesPerSecond * 2,
        clock.now(),
      )
    },
    open(connection) {
      const preAuthenticated = connection.takePreAuthenticated()
      if (preAuthenticated && deps.isRevoked?.(preAuthenticated.sessionId)) {
        refuse(connection, {
          code: 'UNAUTHORIZED',
          message: 'The token is invalid, expired or revoked.',
          close: CloseCode.unauthorized,
        })
        return
      }
      const refusal = admission.admit(connection, connections.size, preAuthenticated !== null)
      if (refusal) {
        refuse(connection, refusal)
        return
      }
      connections.add(connection)
      transport.joinAll(connection)
      send(connection, {
        type: 'connected',
        connectionId: connectionId(connection),
        timestamp: new Date(clock.now()).toISOString(),
      })
      authenticator.opened(connection)
      if (preAuthenticated)
        connection.enqueue(
          () => authenticator.signInAtOpen(connection, preAuthenticated),
          (error) => onError(error, `signing in connection ${connectionId(connection)}`),
        )
    },
    message: (connection, data) => route(connection, data),
    close: (connection) => forget(connection),
    start(server) {
      if (server) transport.attach(server)
      unsubscribe ??= bus.subscribe({
        onEvent: onBusEvent,
        onResync: () => {
          inbox.resync()
          channels.resync()
        },
      })
      channels.start()
    },
    attach(server) {
      transport.attach(server)
    },
    stop() {
      unsubscribe?.()
      unsubscribe = null
      for (const connection of [...connections])
        close(connection, CloseCode.goingAway, 'server shutting down')
      sweep.stop()
      authenticator.stop()
      inbox.stop()
      channels.stop()
    },
  }
}
