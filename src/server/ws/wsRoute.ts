import { Elysia, t } from 'elysia'
import { clientIp } from '../api/clientIp'
import { createRateLimiter, rateLimited } from '../api/createRateLimiter'
import type { OriginCheck } from '../api/origins'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import { HeraldError } from '../errors'
import type { SocketManager } from './SocketManager'

type UpgradeData = { heraldSession?: AuthenticatedSession | null; heraldIp?: string }

export interface WsRouteOptions {
  /** New connections per second per client IP; bursts of twice that. */
  connectionsPerSecondPerIp: number
  trustProxy: boolean
  checkOrigin: OriginCheck
}

/** `/ws`: the transport side of the hub. Connection state lives in the SocketManager, keyed by ws.id. */
export function wsRoute(
  hub: SocketManager,
  authenticate: (token: string) => Promise<AuthenticatedSession | null>,
  options: WsRouteOptions,
) {
  const upgrades = createRateLimiter({
    ratePerSecond: options.connectionsPerSecondPerIp,
    burst: options.connectionsPerSecondPerIp * 2,
  })
  return new Elysia({ name: 'herald/ws' }).ws('/ws', {
    query: t.Object({ token: t.Optional(t.String()) }),
    // An array, so Elysia runs it once as route hook and not again inside the upgrade.
    beforeHandle: [
      async (context) => {
        // Refused upgrades answer with the contract's error body: 429 (with Retry-After), 403, 401.
        const ip = clientIp(context.request, context.server, options.trustProxy)
        const wait = upgrades.take(ip)
        if (wait > 0) throw rateLimited('Too many new connections from this address; retry later.', wait)
        // A page on another site must not open sockets in its visitors' names (cross-site WebSocket hijacking).
        if (options.checkOrigin(context.request) === 'refused')
          throw new HeraldError('FORBIDDEN', 'This origin may not connect; see ALLOWED_ORIGINS.')
        ;(context as unknown as UpgradeData).heraldIp = ip
        const token = context.query.token
        if (token === undefined) return
        // The original design's ?token= form; an invalid token refuses the upgrade outright.
        const session = await authenticate(token)
        if (!session) throw new HeraldError('UNAUTHORIZED', 'The token is invalid, expired or revoked.')
        ;(context as unknown as UpgradeData).heraldSession = session
      },
    ],
    open(ws) {
      const data = ws.data as unknown as UpgradeData
      hub.open(ws.raw as never, ws.id, data.heraldSession ?? null, data.heraldIp ?? 'unknown')
    },
    message(ws, message) {
      hub.message(ws.id, message)
    },
    close(ws) {
      hub.close(ws.id)
    },
  })
}
