import { Elysia } from 'elysia'

/** On every response, errors included. The web app's HTML gets the fuller policy of webAppPolicy. */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
}

/** Elysia's default headers: set in every request's context as it is created (no hook runs per request). */
export function securityHeaders() {
  return new Elysia({ name: 'herald/security-headers' }).headers(SECURITY_HEADERS)
}

/**
 * The web app (web/dist) loads only its own scripts and styles, shows images of its own and wallet icons
 * (data: URIs), and talks to this server (HTTP and WebSocket) and to the chain's RPC from /api/config.
 */
export function webAppPolicy(rpcUrl: string | null): (host: string | null) => string {
  let rpc = ''
  if (rpcUrl) {
    const url = new URL(rpcUrl)
    rpc = ` ${url.protocol}//${url.host}`
  }
  return (host) => {
    // 'self' covers ws: and wss: in current browsers; the explicit sources are for older ones.
    const socket = host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : ''
    return [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src 'self'${socket}${rpc}`,
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; ')
  }
}
