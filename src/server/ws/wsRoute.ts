import type { Server } from 'bun'
import { Elysia } from 'elysia'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import { HeraldError } from '../errors'
import { clientIp } from '../http/clientIp'
import { createRateLimiter, rateLimited } from '../http/createRateLimiter'
import type { OriginCheck } from '../http/origins'
import { SECURITY_HEADERS } from '../http/securityHeaders'
import type { Hub } from './createHub'

export interface WsRouteOptions {
  /** New connections per second per client IP; bursts of twice that. */
  connectionsPerSecondPerIp: number
  trustProxy: boolean
  checkOrigin: OriginCheck
  /** Counts an upgrade refused by the per-IP rate. */
  onRateLimited(): void
  /** The rate limiter's clock, in milliseconds (default performance.now). */
  now?: () => number
}

/**
 * `/ws`: a plain GET route that upgrades by itself. Elysia's `.ws()` keeps its whole request context (the
 * Request, headers, query, closures per connection) in every socket's data; here the data is the hub's own
 * Connection, whose prototype carries the callbacks that Elysia's server-wide WebSocket handler calls. The
 * server-wide options (idleTimeout, maxPayloadLength, backpressureLimit, …) of `new Elysia({ websocket })`
 * apply to these sockets as to any.
 */
export function wsRoute(
  hub: Hub,
  authenticate: (token: string) => Promise<AuthenticatedSession | null>,
  options: WsRouteOptions,
) {
  const upgrades = createRateLimiter({
    ratePerSecond: options.connectionsPerSecondPerIp,
    burst: options.connectionsPerSecondPerIp * 2,
    now: options.now,
  })
  return new Elysia({ name: 'herald/ws' }).get('/ws', async ({ request, server }) => {
    // Refused upgrades answer with the contract's error body: 429 (with Retry-After), 403, 401.
    const ip = clientIp(request, server, options.trustProxy)
    const wait = upgrades.take(ip)
    if (wait > 0) {
      options.onRateLimited()
      throw rateLimited('Too many new connections from this address; retry later.', wait)
    }
    // A page on another site must not open sockets in its visitors' names (cross-site WebSocket hijacking).
    if (options.checkOrigin(request) === 'refused')
      throw new HeraldError('FORBIDDEN', 'This origin may not connect; see ALLOWED_ORIGINS.')
    let session: AuthenticatedSession | null = null
    const token = tokenParameter(request.url)
    if (token !== null) {
      // The original design's ?token= form; an invalid token refuses the upgrade outright.
      session = await authenticate(token)
      if (!session) throw new HeraldError('UNAUTHORIZED', 'The token is invalid, expired or revoked.')
    }
    const upgraded = (server as Server<unknown> | null)?.upgrade(request, {
      headers: SECURITY_HEADERS,
      data: hub.createConnection(ip, session),
    })
    if (!upgraded) throw new HeraldError('BAD_REQUEST', 'Expected a WebSocket upgrade.')
    // Bun answers an upgraded request itself; nothing is returned.
    return undefined
  })
}

/** `?token=` without building a URL object for every upgrade (most have no query at all). */
function tokenParameter(url: string): string | null {
  const query = url.indexOf('?')
  if (query < 0) return null
  return new URLSearchParams(url.slice(query + 1)).get('token')
}
