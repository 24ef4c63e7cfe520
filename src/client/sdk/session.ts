import type {
  BroadcastMessage,
  ClientMessage,
  ErrorMessage,
  Notification,
  ServerMessage,
} from '../../shared/protocol'
import { CloseCode, CONNECTION_LIMIT_ERRORS } from '../../shared/protocol/codes'
import { isServerMessage } from '../../shared/protocol/serverMessages'
import { type Emission, emissions } from './emitter'
import { resumeRetryDelayMs } from './retryDelay'
import type { ConnectionState, HeraldClientEvents } from './types'

export { resumeRetryDelayMs }

// What the client's session means, as a pure function: state + event → new state + effects. It decides what
// each server message means (dedupe by seq, holding live notifications until the replay ends, resume, reset,
// retrying a resume the server could not serve), when to give up and why; createHeraldClient does the I/O.

export interface SessionState {
  readonly connection: ConnectionState
  /** Counts the sockets opened (one per `connected` frame): answers meant for an earlier one are dropped. */
  readonly socketId: number
  readonly userId: string | null
  /** The last seq delivered; null: none yet, so the first resume starts from "now". */
  readonly lastSeq: number | null
  /**
   * Notifications that arrive between `authenticated` and `resumed`: live ones pushed before the server took
   * the resume are also in its replay, so both are held and delivered in seq order, once, when `resumed` comes.
   */
  readonly held: readonly Notification[]
  /** The last `error` message on this socket: it says why the socket is then closed. */
  readonly lastError: ErrorMessage | null
  /** Token refusals in a row (close 4001); the second one is final. */
  readonly authFailures: number
  /** Resumes refused with UNAVAILABLE on this socket, for the backoff. */
  readonly resumeAttempts: number
  readonly closedReason: { code: string; message: string } | null
}

export type SessionEvent =
  /** connect(): open a socket. */
  | { type: 'connect' }
  /** disconnect(): close the socket, stay idle until connect(). */
  | { type: 'disconnect' }
  /** A frame from the server. */
  | { type: 'message'; message: ServerMessage | BroadcastMessage }
  /** The token to open socket `socketId` with was looked up (null: anonymous). */
  | { type: 'tokenFound'; socketId: number; token: string | null }
  /** The latest seq over HTTP, for a first resume from "now" (0 when it could not be read). */
  | { type: 'startSeq'; socketId: number; seq: number }
  /** The wait after an UNAVAILABLE resume is over. */
  | { type: 'retryResume'; socketId: number }
  /** The socket closed (partysocket reconnects by itself unless told to stop). */
  | { type: 'closed'; code: number }
  /** The socket could not be opened. */
  | { type: 'socketError' }
  /** setToken() with a token that needs a new connection (null: signed out). */
  | { type: 'tokenChanged'; signedOut: boolean }

export type SessionEffect =
  | Emission<HeraldClientEvents>
  | { type: 'send'; message: ClientMessage }
  | { type: 'openSocket' }
  | { type: 'closeSocket'; code?: number; reason?: string }
  | { type: 'reconnect' }
  /** Look up the token (getToken), then report `tokenFound`. */
  | { type: 'findToken'; socketId: number }
  /** Read the latest seq over HTTP, then report `startSeq`. */
  | { type: 'fetchStartSeq'; socketId: number }
  /** Report `retryResume` after `delayMs` (up to twice that, with jitter). */
  | { type: 'retryResumeLater'; socketId: number; delayMs: number }
  | { type: 'scheduleRefresh'; expiresAt: string }
  | { type: 'cancelRefresh' }
  /** The server took the token: it is the one to keep. */
  | { type: 'tokenAccepted' }
  /** The server refused the token (close 4001): look for another. */
  | { type: 'tokenRefused' }
  /**
   * Socket `socketId` can take channel subscriptions: its `auth` is sent (the server handles a connection's
   * messages in order, so subscribes sent next run as that user), or it stays anonymous.
   */
  | { type: 'channelsReady'; socketId: number }

export interface SessionStep {
  state: SessionState
  effects: SessionEffect[]
}

export const initialSession = (since: number | null): SessionState => ({
  connection: 'idle',
  socketId: 0,
  userId: null,
  lastSeq: since,
  held: [],
  lastError: null,
  authFailures: 0,
  resumeAttempts: 0,
  closedReason: null,
})

const emit = emissions<HeraldClientEvents>()

/** The state being built by one event, and its effects in order. */
class Step {
  readonly effects: SessionEffect[] = []
  constructor(public state: SessionState) {}
  update(patch: Partial<SessionState>) {
    this.state = { ...this.state, ...patch }
  }
  do(...effects: SessionEffect[]) {
    this.effects.push(...effects)
  }
  setConnection(connection: ConnectionState) {
    if (this.state.connection === connection) return
    this.update({ connection })
    this.do(emit('state', connection))
  }
  /** Stops for a reason reconnecting cannot fix. */
  stop(code: string, message: string) {
    this.update({ closedReason: { code, message } })
    this.do({ type: 'cancelRefresh' }, { type: 'closeSocket' })
    this.setConnection('closed')
  }
  get hasSocket() {
    return this.state.connection !== 'idle' && this.state.connection !== 'closed'
  }
  /** Whether `socketId` names the open socket and it is still waiting for its resume. */
  resuming(socketId: number) {
    return socketId === this.state.socketId && this.state.connection === 'authenticating'
  }
}

/** Applies one event: returns the next state and what to do, in order. Never mutates `state`. */
export function sessionReducer(state: SessionState, event: SessionEvent): SessionStep {
  const step = new Step(state)
  switch (event.type) {
    case 'connect':
      step.update({ closedReason: null, authFailures: 0 })
      step.setConnection('connecting')
      step.do({ type: 'openSocket' })
      break
    case 'disconnect':
      step.do(
        { type: 'cancelRefresh' },
        { type: 'closeSocket', code: CloseCode.normal, reason: 'client disconnect' },
      )
      step.setConnection('idle')
      break
    case 'message':
      if (!isServerMessage(event.message)) step.do(emit('broadcast', event.message))
      else if (!onServerMessage(step, event.message)) return { state, effects: [] }
      step.do(emit('message', event.message))
      break
    case 'tokenFound':
      if (event.socketId !== step.state.socketId || !step.hasSocket) break
      if (event.token) {
        step.setConnection('authenticating')
        step.do({ type: 'send', message: { type: 'auth', token: event.token } })
      } else {
        // Anonymous now (no token after a refusal, say): the previous user's identity and seq do not carry over.
        if (step.state.userId !== null) step.update({ userId: null, lastSeq: null })
        step.setConnection('connected')
      }
      step.do({ type: 'channelsReady', socketId: event.socketId })
      break
    case 'startSeq': {
      if (!step.resuming(event.socketId)) break
      const since = step.state.lastSeq ?? event.seq
      step.update({ lastSeq: since })
      step.do({ type: 'send', message: { type: 'resume', since } })
      break
    }
    case 'retryResume':
      if (step.resuming(event.socketId))
        step.do({ type: 'send', message: { type: 'resume', since: step.state.lastSeq ?? 0 } })
      break
    case 'closed':
      onClosed(step, event.code)
      break
    case 'socketError':
      if (step.state.connection === 'connecting') step.setConnection('reconnecting')
      break
    case 'tokenChanged':
      if (event.signedOut) step.update({ userId: null, lastSeq: null })
      if (step.hasSocket) {
        step.setConnection('reconnecting')
        step.do({ type: 'reconnect' })
      }
      break
  }
  return { state: step.state, effects: step.effects }
}

function onClosed(step: Step, code: number) {
  step.do({ type: 'cancelRefresh' })
  if (!step.hasSocket) return
  const error = step.state.lastError
  step.update({ lastError: null })
  if (
    code === CloseCode.connectionLimit ||
    (error !== null && CONNECTION_LIMIT_ERRORS.includes(error.code))
  ) {
    // The same attempt would fail again: stop and say why.
    step.stop(error?.code ?? 'CONNECTION_LIMIT', error?.message ?? 'A connection limit was reached.')
    return
  }
  if (code === CloseCode.unauthorized) {
    // The token was refused or expired: ask for a fresh one once; a second refusal in a row is final.
    step.do({ type: 'tokenRefused' })
    step.update({ authFailures: step.state.authFailures + 1 })
    if (step.state.authFailures >= 2) {
      step.stop('UNAUTHORIZED', error?.message ?? 'The session is no longer valid; sign in again.')
      return
    }
  }
  step.setConnection('reconnecting')
}

/** The typed event of a server message; false when the message is dropped altogether (a seq seen before). */
function onServerMessage(step: Step, message: ServerMessage): boolean {
  const { state } = step
  switch (message.type) {
    case 'connected':
      step.update({ socketId: state.socketId + 1, held: [], resumeAttempts: 0 })
      step.do({ type: 'findToken', socketId: step.state.socketId })
      break
    case 'authenticated': {
      const sameUser = state.userId === null || state.userId === message.userId
      step.update({ authFailures: 0, userId: message.userId, lastSeq: sameUser ? state.lastSeq : null })
      step.do(
        { type: 'tokenAccepted' },
        { type: 'scheduleRefresh', expiresAt: message.expiresAt },
        emit('authenticated', message),
      )
      // A refresh on an open socket: nothing to resume. Otherwise a first connection starts from the latest
      // seq (the inbox comes from HTTP, live ones from here on); a reconnection resumes where it was.
      const { connection, lastSeq, socketId } = step.state
      if (connection !== 'authenticating') break
      if (lastSeq === null) step.do({ type: 'fetchStartSeq', socketId })
      else step.do({ type: 'send', message: { type: 'resume', since: lastSeq } })
      break
    }
    case 'notification': {
      const { notification } = message
      if (state.connection === 'authenticating') {
        step.update({ held: [...state.held, notification] })
        break
      }
      // Resume makes delivery exactly-once; this guards against a replay racing a live copy anyway.
      if (state.lastSeq !== null && notification.seq <= state.lastSeq) return false
      step.update({ lastSeq: notification.seq })
      step.do(emit('notification', notification))
      break
    }
    case 'resumed': {
      // Everything held is in since+1..seq (the replay, and live copies of part of it): in order, once each.
      let lastSeq = state.lastSeq
      for (const notification of [...state.held].sort((a, b) => a.seq - b.seq)) {
        if (notification.seq <= message.since || (lastSeq !== null && notification.seq <= lastSeq)) continue
        lastSeq = notification.seq
        step.do(emit('notification', notification))
      }
      step.update({ held: [], lastSeq: Math.max(lastSeq ?? 0, message.seq), resumeAttempts: 0 })
      step.setConnection('connected')
      step.do(emit('resumed', message))
      break
    }
    case 'reset':
      // Whatever was held is at or below the reset's seq: the app re-fetches it over HTTP.
      step.update({ held: [], lastSeq: message.seq, resumeAttempts: 0 })
      step.setConnection('connected')
      step.do(emit('reset', message))
      break
    case 'error':
      // A refused channel message (it names its channel) leaves the socket open and the session as it was:
      // the channel subscriptions (channels.ts) take it.
      if (message.channel !== undefined) {
        step.do(emit('error', message))
        break
      }
      step.update({ lastError: message })
      step.do(emit('error', message))
      // The server could not serve the resume (its database is down, say) and keeps the socket open: ask
      // again with backoff rather than wait in 'authenticating' forever.
      if (state.connection === 'authenticating' && state.userId !== null && message.code === 'UNAVAILABLE') {
        const attempt = state.resumeAttempts + 1
        step.update({ resumeAttempts: attempt })
        step.do({ type: 'retryResumeLater', socketId: state.socketId, delayMs: resumeRetryDelayMs(attempt) })
      }
      break
    case 'job_status':
      step.do(emit('job_status', message))
      break
    case 'data_update':
      step.do(emit('data_update', message))
      break
    case 'read_state':
      step.do(emit('read_state', message))
      break
    case 'inbox_state':
      step.do(emit('inbox_state', message))
      break
    case 'preferences':
      step.do(emit('preferences', message))
      break
    case 'pong':
      break
  }
  return true
}
