import { CloseCode, type WsErrorCode } from '../../shared/protocol'
import type { Connection } from './Connection'

/** Why a connection may not stay: the error sent, then the close. */
export interface Refusal {
  code: WsErrorCode
  message: string
  close: number
}

export interface Admission {
  /** At open: whether the connection may stay, given how many are open; counts it when anonymous. */
  admit(connection: Connection, open: number, authenticated: boolean): Refusal | null
  /** At a user's authentication on a new connection: whether they may have one more here. */
  admitUser(connectionsOfUser: number): Refusal | null
  /** The connection is no longer anonymous (authenticated or closed). */
  leaveAnonymous(connection: Connection): void
}

/** The hub's connection limits: in total, per user, and unauthenticated ones per client address. */
export function createAdmission(limits: {
  maxConnections: number
  maxConnectionsPerUser: number
  maxAnonymousConnectionsPerIp: number
  /** Counts a refusal by the per-address limit. */
  onAnonymousLimited(): void
}): Admission {
  const anonymousByIp = new Map<string, number>()
  return {
    admit(connection, open, authenticated) {
      if (open >= limits.maxConnections)
        return {
          code: 'CONNECTION_LIMIT_TOTAL_EXCEEDED',
          message: 'This server is at its connection limit.',
          close: CloseCode.connectionLimit,
        }
      if (authenticated) return null
      // Anonymous sockets are allowed (broadcasts only) but bounded per address. The client should retry
      // later, which the SDK does after 4008 (4029 is final for it).
      const ip = connection.ip ?? 'unknown'
      const anonymous = anonymousByIp.get(ip) ?? 0
      if (anonymous >= limits.maxAnonymousConnectionsPerIp) {
        limits.onAnonymousLimited()
        return {
          code: 'RATE_LIMITED',
          message: 'Too many unauthenticated connections from this address; authenticate or close some.',
          close: CloseCode.rateLimited,
        }
      }
      anonymousByIp.set(ip, anonymous + 1)
      connection.markAnonymous()
      return null
    },
    admitUser(connectionsOfUser) {
      if (connectionsOfUser < limits.maxConnectionsPerUser) return null
      return {
        code: 'CONNECTION_LIMIT_PER_USER_EXCEEDED',
        message: `At most ${limits.maxConnectionsPerUser} connections per user.`,
        close: CloseCode.connectionLimit,
      }
    },
    leaveAnonymous(connection) {
      const ip = connection.leaveAnonymous()
      if (ip === null) return
      const left = (anonymousByIp.get(ip) ?? 1) - 1
      if (left > 0) anonymousByIp.set(ip, left)
      else anonymousByIp.delete(ip)
    },
  }
}
