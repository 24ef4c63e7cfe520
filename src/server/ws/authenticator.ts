import { CloseCode, type ServerMessage } from '../../shared/protocol'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import type { TokenClaims } from '../auth/createTokenService'
import type { ErrorReporter } from '../errors'
import type { Clock } from '../time/clock'
import type { Refusal } from './admission'
import type { Connection, Deadline } from './Connection'
import { DeadlineHeap } from './DeadlineHeap'

export interface AuthenticatorDeps {
  /** The token's signature and expiry (no I/O). */
  verify(token: string): Promise<TokenClaims | null>
  /** The verified claims' session in the store; null when revoked or over. Throws when it cannot be read. */
  check(claims: TokenClaims): Promise<AuthenticatedSession | null>
  /** Starts capturing the user's inbox before `check` reads its base (see the stream core's `hold`). */
  hold(userId: string): void
  release(userId: string): void
  /**
   * The session is good: the hub joins the connection to the user (their inbox, the per-user limit). With
   * `held`, this ends a `hold`. False when the hub refused it (and has closed the connection).
   */
  admit(connection: Connection, session: AuthenticatedSession, held: boolean): boolean
  /** The connection took its user's identity (its first sign-in, not a refresh). */
  signedIn(connection: Connection): void
  send(connection: Connection, message: ServerMessage): void
  refuse(connection: Connection, refusal: Refusal): void
  close(connection: Connection, code: number, reason: string): void
  clock: Clock
  /** 0: anonymous connections may stay. */
  authTimeoutSeconds: number
  tokenExpiryGraceSeconds: number
  onError: ErrorReporter
}

export interface Authenticator {
  /** A connection opened (anonymous ones get the authentication deadline). */
  opened(connection: Connection): void
  /** The `auth` message (and a token refresh on the same connection). */
  authenticate(connection: Connection, token: string): Promise<void>
  /** A session from the upgrade's `?token=`. */
  signInAtOpen(connection: Connection, session: AuthenticatedSession): void
  forget(connection: Connection): void
  stop(): void
}

const unauthorized = (message: string): Refusal => ({
  code: 'UNAUTHORIZED',
  message,
  close: CloseCode.unauthorized,
})

/**
 * Authentication and its deadlines: the `auth` message (sign-in and refresh on an open socket), the
 * authentication timeout of anonymous sockets, and token expiry with its grace period. Every connection's
 * deadline sits in one heap behind one timer, so idle connections cost no timers.
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const { clock } = deps
  const deadlines = new DeadlineHeap<Connection>()
  let cancelTimer: (() => void) | null = null
  let timerAt = Number.POSITIVE_INFINITY

  const arm = () => {
    cancelTimer?.()
    cancelTimer = null
    timerAt = Number.POSITIVE_INFINITY
    const next = deadlines.peek()
    if (!next) return
    const delay = Math.max(0, next.deadline - clock.now())
    timerAt = clock.now() + delay
    cancelTimer = clock.schedule(runDeadlines, delay)
  }

  const setDeadline = (connection: Connection, kind: Deadline, at: number) => {
    connection.deadlineKind = kind
    deadlines.schedule(connection, at)
    if (at < timerAt) arm()
  }

  const clearDeadline = (connection: Connection) => {
    connection.deadlineKind = null
    // The shared timer stays armed: when it fires with nothing due it re-arms for the next deadline.
    deadlines.remove(connection)
  }

  function runDeadlines() {
    cancelTimer = null
    timerAt = Number.POSITIVE_INFINITY
    const now = clock.now()
    for (let connection = deadlines.popDue(now); connection; connection = deadlines.popDue(now)) {
      const kind = connection.deadlineKind
      connection.deadlineKind = null
      if (connection.closed) continue
      if (kind === 'auth') {
        if (connection.userId === null)
          deps.refuse(
            connection,
            unauthorized(`Authenticate within ${deps.authTimeoutSeconds} s of connecting.`),
          )
      } else if (kind === 'expiry') {
        const grace = deps.tokenExpiryGraceSeconds
        deps.send(connection, {
          type: 'error',
          code: 'TOKEN_EXPIRED',
          message: `The token expired; send a fresh auth within ${grace} s.`,
        })
        // Scheduled without re-arming: the timer is armed once when this pass is done.
        connection.deadlineKind = 'grace'
        deadlines.schedule(connection, now + grace * 1000)
      } else if (kind === 'grace') {
        deps.close(connection, CloseCode.unauthorized, 'token expired')
      }
    }
    arm()
  }

  const signIn = (connection: Connection, session: AuthenticatedSession, held: boolean) => {
    const first = connection.userId === null
    if (first && !deps.admit(connection, session, held)) return
    connection.signIn(session)
    if (first) deps.signedIn(connection)
    if (connection.deadlineKind === 'auth') clearDeadline(connection)
    setDeadline(connection, 'expiry', session.expiresAt)
    deps.send(connection, {
      type: 'authenticated',
      userId: session.userId,
      address: session.address,
      expiresAt: new Date(session.expiresAt).toISOString(),
    })
  }

  return {
    opened(connection) {
      const timeout = deps.authTimeoutSeconds
      if (connection.anonymous && timeout > 0) setDeadline(connection, 'auth', clock.now() + timeout * 1000)
    },
    async authenticate(connection, token) {
      const claims = await deps.verify(token)
      if (connection.closed) return
      if (!claims) {
        deps.refuse(connection, unauthorized('The token is invalid, expired or revoked.'))
        return
      }
      // A first sign-in captures the user's inbox before the session query reads its base (a refresh has it).
      const joining = connection.userId === null
      if (joining) deps.hold(claims.userId)
      let session: AuthenticatedSession | null
      try {
        session = await deps.check(claims)
      } catch (error) {
        if (joining) deps.release(claims.userId)
        // The token could not be checked (the database is unreachable): an unanswered auth would leave the
        // client waiting. 1013 makes it reconnect later, authenticate and resume, so nothing is lost.
        deps.onError(error, `authenticating a connection of user ${claims.userId}`)
        deps.close(connection, CloseCode.tryAgainLater, 'try again later')
        return
      }
      if (connection.closed || !session) {
        if (joining) deps.release(claims.userId)
        if (!connection.closed)
          deps.refuse(connection, unauthorized('The token is invalid, expired or revoked.'))
        return
      }
      if (!joining && connection.userId !== session.userId) {
        deps.refuse(connection, unauthorized('A connection cannot change user.'))
        return
      }
      signIn(connection, session, joining)
    },
    signInAtOpen(connection, session) {
      signIn(connection, session, false)
    },
    forget(connection) {
      clearDeadline(connection)
    },
    stop() {
      cancelTimer?.()
      cancelTimer = null
      timerAt = Number.POSITIVE_INFINITY
    },
  }
}
