import { Elysia } from 'elysia'
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from '../../shared/protocol/idempotency'
import { HeraldError } from '../errors'

/** 'none': no Origin header (not a browser, or a same-origin GET); the others say what to do with a browser. */
export type OriginVerdict = 'none' | 'allowed' | 'refused'
export type OriginCheck = (request: Request) => OriginVerdict

/**
 * ALLOWED_ORIGINS, plus always the server's own origin: a page whose Origin names the host the browser sent
 * the request to (the Host header, or X-Forwarded-Host behind a trusted proxy) was served by this server.
 */
export function createOriginCheck(allowed: string[] | null, trustProxy: boolean): OriginCheck {
  const any = allowed?.includes('*') ?? false
  const listed = new Set(allowed ?? [])
  return (request) => {
    const origin = request.headers.get('origin')
    if (origin === null) return 'none'
    if (any || listed.has(origin)) return 'allowed'
    let host: string
    try {
      host = new URL(origin).host
    } catch {
      return 'refused'
    }
    const hosts = [request.headers.get('host')]
    if (trustProxy) hosts.push(request.headers.get('x-forwarded-host')?.split(',')[0]?.trim() ?? null)
    return hosts.some((h) => h?.toLowerCase() === host) ? 'allowed' : 'refused'
  }
}

const PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': `Authorization, Content-Type, ${IDEMPOTENCY_KEY_HEADER}`,
  'access-control-max-age': '600',
}

/**
 * /api/* for browsers: an allowed Origin gets CORS headers (and its preflight a 204), any other Origin a 403
 * before the route runs. Requests without Origin (other backends, scripts, same-origin GETs) pass untouched.
 */
export function apiOrigins(check: OriginCheck) {
  return new Elysia({ name: 'herald/origins' }).onRequest(({ request, set }) => {
    const path = new URL(request.url).pathname
    if (!path.startsWith('/api/')) return
    set.headers.vary = 'Origin'
    const verdict = check(request)
    if (verdict === 'none') return
    if (verdict === 'refused')
      throw new HeraldError('FORBIDDEN', 'This origin is not allowed; see ALLOWED_ORIGINS.')
    set.headers['access-control-allow-origin'] = request.headers.get('origin')!
    set.headers['access-control-expose-headers'] = `Retry-After, ${IDEMPOTENT_REPLAYED_HEADER}`
    if (request.method === 'OPTIONS' && request.headers.has('access-control-request-method'))
      return new Response(null, { status: 204, headers: PREFLIGHT_HEADERS })
  })
}
