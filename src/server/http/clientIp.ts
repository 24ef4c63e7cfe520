import type { Server } from 'bun'

/**
 * The address per-IP limits count: the peer of the connection, or with TRUST_PROXY the first X-Forwarded-For
 * address, which only a proxy that sets the header itself (rather than passing a client's on) makes true.
 */
export function clientIp(request: Request, server: Server<unknown> | null, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim()
    if (forwarded) return normalize(forwarded.slice(0, 64))
  }
  const address = server?.requestIP(request)?.address
  return address ? normalize(address) : 'unknown'
}

/** One key per address: IPv4 clients of a dual-stack socket arrive as ::ffff:a.b.c.d. */
const normalize = (address: string) =>
  address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address.toLowerCase()
