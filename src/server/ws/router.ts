import { TypeCompiler } from '@sinclair/typebox/compiler'
import {
  AuthMessageSchema,
  CloseCode,
  PingMessageSchema,
  PresenceRequestSchema,
  type PublishMessage,
  PublishMessageSchema,
  ResumeMessageSchema,
  type SubscribeMessage,
  SubscribeMessageSchema,
  UnsubscribeMessageSchema,
} from '../../shared/protocol'
import { createRateLimiter, takeToken } from '../http/createRateLimiter'
import type { Clock } from '../time/clock'
import type { Refusal } from './admission'
import type { Connection } from './Connection'

const checkAuth = TypeCompiler.Compile(AuthMessageSchema)
const checkResume = TypeCompiler.Compile(ResumeMessageSchema)
const checkPing = TypeCompiler.Compile(PingMessageSchema)
const checkSubscribe = TypeCompiler.Compile(SubscribeMessageSchema)
const checkUnsubscribe = TypeCompiler.Compile(UnsubscribeMessageSchema)
const checkPublish = TypeCompiler.Compile(PublishMessageSchema)
const checkPresence = TypeCompiler.Compile(PresenceRequestSchema)

export interface FrameHandlers {
  ping(connection: Connection): void
  /** Queued behind the connection's earlier messages. */
  auth(connection: Connection, token: string): Promise<void>
  /** Queued behind the connection's earlier messages. */
  resume(connection: Connection, since: number): Promise<void>
  // Channel messages are queued too, so their answers (and refusals) come in the order they were asked.
  subscribe(connection: Connection, message: SubscribeMessage): Promise<void>
  unsubscribe(connection: Connection, channel: string): void
  publish(connection: Connection, message: PublishMessage): Promise<void>
  presence(connection: Connection, channel: string): Promise<void>
}

export interface FrameRouterDeps {
  handlers: FrameHandlers
  invalid(connection: Connection, message: string): void
  refuse(connection: Connection, refusal: Refusal): void
  onRateLimited(limit: 'ws_messages' | 'ws_user_messages'): void
  onError(error: unknown, connection: Connection): void
  clock: Clock
  /** Client messages per second per connection; bursts of twice that. */
  messagesPerSecond: number
  /** Client messages per second per user over all their connections; bursts of twice that. */
  userMessagesPerSecond: number
}

const tooMany = (message: string): Refusal => ({
  code: 'RATE_LIMITED',
  message,
  close: CloseCode.rateLimited,
})

/**
 * Frame routing: every client frame is rate limited (per connection, then per user), checked against its
 * message's schema and handed to its handler. Messages that wait for I/O run one after another per connection,
 * so their answers keep the order they were asked in.
 */
export function createFrameRouter(deps: FrameRouterDeps): (connection: Connection, data: unknown) => void {
  const { handlers, clock } = deps
  const rate = deps.messagesPerSecond
  const userRate = deps.userMessagesPerSecond
  /** Per-user buckets (the per-connection one lives on the Connection, to cost no map lookup). */
  const userMessages = createRateLimiter({ ratePerSecond: userRate, burst: userRate * 2, now: clock.now })

  const queue = (connection: Connection, task: () => Promise<void>) =>
    connection.enqueue(task, (error) => deps.onError(error, connection))

  return (connection, data) => {
    if (connection.closed) return
    const now = clock.now()
    if (takeToken(connection, now, rate, rate * 2) > 0) {
      deps.onRateLimited('ws_messages')
      deps.refuse(connection, tooMany('Too many messages; slow down.'))
      return
    }
    if (connection.userId !== null && userMessages.take(connection.userId) > 0) {
      deps.onRateLimited('ws_user_messages')
      deps.refuse(connection, tooMany("Too many messages from this user's connections together; slow down."))
      return
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data) || Buffer.isBuffer(data)) {
      deps.invalid(connection, 'Each frame must be one JSON object with a string "type".')
      return
    }
    const type = (data as { type?: unknown }).type
    switch (type) {
      case 'ping':
        if (checkPing.Check(data)) handlers.ping(connection)
        else deps.invalid(connection, 'ping takes no fields.')
        return
      case 'auth': {
        if (!checkAuth.Check(data)) {
          deps.invalid(connection, 'auth needs a string "token".')
          return
        }
        const token = data.token
        queue(connection, () => handlers.auth(connection, token))
        return
      }
      case 'resume': {
        if (!checkResume.Check(data)) {
          deps.invalid(connection, 'resume needs "since", a whole number ≥ 0.')
          return
        }
        const since = data.since
        connection.queuedResumes++
        queue(connection, () => {
          connection.queuedResumes--
          return handlers.resume(connection, since)
        })
        return
      }
      case 'subscribe':
        if (checkSubscribe.Check(data)) queue(connection, () => handlers.subscribe(connection, data))
        else
          deps.invalid(
            connection,
            'subscribe needs a string "channel", and takes "since" (a whole number ≥ 0) and a string "token".',
          )
        return
      case 'unsubscribe':
        if (checkUnsubscribe.Check(data)) {
          const channel = data.channel
          queue(connection, async () => handlers.unsubscribe(connection, channel))
        } else deps.invalid(connection, 'unsubscribe needs a string "channel".')
        return
      case 'publish':
        if (checkPublish.Check(data)) queue(connection, () => handlers.publish(connection, data))
        else
          deps.invalid(
            connection,
            'publish needs a string "channel" and "data", and takes a string "ref" of 1–100 characters.',
          )
        return
      case 'presence':
        if (checkPresence.Check(data)) {
          const channel = data.channel
          queue(connection, () => handlers.presence(connection, channel))
        } else deps.invalid(connection, 'presence needs a string "channel".')
        return
      default:
        deps.invalid(
          connection,
          typeof type === 'string'
            ? `Unknown message type "${type.slice(0, 40)}".`
            : 'Missing string "type".',
        )
    }
  }
}
