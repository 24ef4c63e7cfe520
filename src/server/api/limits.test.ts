import { describe, expect, test } from 'bun:test'
import { createManualClock } from '../../../test/helpers/manualClock'
import { metricValue } from '../../../test/helpers/metrics'
import { serversPerTest } from '../../../test/helpers/testServer'
import { newAccount, signIn, trySignIn } from '../../../test/helpers/wallet'
import { createRateLimiter, takeToken } from '../http/createRateLimiter'
import { webAppPolicy } from '../http/securityHeaders'

// HTTP limits and browser policy against real servers: sign-in and publishing rates (429 RATE_LIMITED with
// Retry-After), the Origin check and CORS on /api, and the security headers on every response.

type ErrorBody = { error: { code: string; message: string } }

const serve = serversPerTest()

async function expectRateLimited(response: Response) {
  expect(response.status).toBe(429)
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  const body = (await response.json()) as ErrorBody
  expect(body).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String) } })
}

const nonce = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/api/auth/nonce`, { method: 'POST', headers })

describe('createRateLimiter', () => {
  test('a burst, then one token per 1/rate seconds; the wait is reported in whole seconds', () => {
    let now = 0
    const limiter = createRateLimiter({ ratePerSecond: 2, burst: 4, now: () => now })
    for (let i = 0; i < 4; i++) expect(limiter.take('a')).toBe(0)
    expect(limiter.take('a')).toBe(1)
    // Keys are independent.
    expect(limiter.take('b')).toBe(0)
    now += 499
    expect(limiter.take('a')).toBe(1)
    now += 2
    expect(limiter.take('a')).toBe(0)
    expect(limiter.take('a')).toBe(1)
    // A slow rate reports a longer wait.
    const slow = createRateLimiter({ ratePerSecond: 1 / 60, burst: 1, now: () => now })
    expect(slow.take('a')).toBe(0)
    expect(slow.take('a')).toBe(60)
  })

  test("takeToken, the step on a bucket of the caller's (the hub's per-connection budget): refill, cap, take", () => {
    const bucket = { tokens: 2, refilledAt: 0 }
    expect(takeToken(bucket, 0, 1, 2)).toBe(0)
    expect(takeToken(bucket, 0, 1, 2)).toBe(0)
    expect(takeToken(bucket, 0, 1, 2)).toBe(1)
    expect(takeToken(bucket, 999, 1, 2)).toBe(1)
    expect(takeToken(bucket, 1000, 1, 2)).toBe(0)
    // A long quiet spell refills up to the burst, no further.
    expect(takeToken(bucket, 60_000, 1, 2)).toBe(0)
    expect(bucket).toEqual({ tokens: 1, refilledAt: 60_000 })
  })

  test('memory stays bounded: refilled keys are swept, and past maxKeys the least recently used go', () => {
    let now = 0
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100, now: () => now })
    for (let i = 0; i < 100; i++) limiter.take(`ip${i}`)
    expect(limiter.size).toBe(100)
    // All are idle long enough to have refilled: the next new key sweeps them.
    now += 1000
    limiter.take('fresh')
    expect(limiter.size).toBe(1)

    // None refilled: the oldest are dropped, the most recent kept.
    for (let i = 0; i < 99; i++) limiter.take(`busy${i}`)
    limiter.take('fresh')
    limiter.take('newest')
    expect(limiter.size).toBeLessThanOrEqual(100)
    expect(limiter.take('fresh')).toBe(1)
    expect(limiter.take('newest')).toBe(1)
    // A dropped key starts over with a full bucket.
    expect(limiter.take('busy0')).toBe(0)
  })
})

describe('AUTH_RATE_PER_MINUTE', () => {
  test('nonce and verify share one budget per address; past it 429 with Retry-After, even for a bad body', async () => {
    const server = await serve({ AUTH_RATE_PER_MINUTE: '4' })
    // One sign-in is two requests.
    await signIn(server.url)
    expect((await nonce(server.url)).status).toBe(200)
    const verify = await fetch(`${server.url}/api/auth/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'not siwe', signature: '0x00' }),
    })
    expect(verify.status).toBe(401)
    // The budget is spent: both routes answer 429, and the limit is checked before the body is validated.
    expect(await metricValue(server.url, 'herald_rate_limited_total', { limit: 'sign_in' })).toBe(0)
    await expectRateLimited(await nonce(server.url))
    expect(await metricValue(server.url, 'herald_rate_limited_total', { limit: 'sign_in' })).toBe(1)
    const { response } = await trySignIn(server.url, newAccount(), { nonce: 'a'.repeat(17) })
    await expectRateLimited(response)
    await expectRateLimited(
      await fetch(`${server.url}/api/auth/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"wrong": true}',
      }),
    )
    const retryAfter = Number((await nonce(server.url)).headers.get('retry-after'))
    // Four a minute: the next one is back within fifteen seconds.
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(15)
    // Other routes are not part of it.
    expect((await fetch(`${server.url}/api/config`)).status).toBe(200)
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
  })

  test('with TRUST_PROXY the first X-Forwarded-For address is the client; without it the header is ignored', async () => {
    const untrusting = await serve({ AUTH_RATE_PER_MINUTE: '1' })
    expect((await nonce(untrusting.url, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(200)
    await expectRateLimited(await nonce(untrusting.url, { 'x-forwarded-for': '203.0.113.2' }))

    const behindProxy = await serve({ AUTH_RATE_PER_MINUTE: '1', TRUST_PROXY: 'true' })
    const from = (ip: string) => nonce(behindProxy.url, { 'x-forwarded-for': `${ip}, 10.0.0.7` })
    expect((await from('203.0.113.1')).status).toBe(200)
    await expectRateLimited(await from('203.0.113.1'))
    expect((await from('203.0.113.2')).status).toBe(200)
  })
})

describe('ADMIN_RATE_PER_SECOND', () => {
  test('past the burst publishing answers 429 with Retry-After; requests without the key do not spend it', async () => {
    // The limiter's clock moves only when the test moves it: no refill during the burst, however slow the machine.
    const clock = createManualClock()
    const server = await serve({ ADMIN_RATE_PER_SECOND: '2' }, { clock })
    const wrongKey = () =>
      fetch(`${server.url}/api/admin/broadcast`, {
        method: 'POST',
        headers: { authorization: 'Bearer not-the-key-at-all', 'content-type': 'application/json' },
        body: JSON.stringify({ message: { type: 'x' } }),
      })
    for (let i = 0; i < 5; i++) expect((await wrongKey()).status).toBe(401)
    // A burst of twice the rate, over both routes.
    const address = newAccount().address
    expect((await server.broadcast({ type: 'one' })).status).toBe(202)
    expect((await server.broadcast({ type: 'two' })).status).toBe(202)
    expect((await server.publish({ address, type: 't', title: 'a', message: 'b' })).status).toBe(201)
    expect((await server.publish({ address, type: 't', title: 'a', message: 'b' })).status).toBe(201)
    const limited = await server.publish({ address, type: 't', title: 'a', message: 'b' })
    await expectRateLimited(limited)
    expect(await metricValue(server.url, 'herald_rate_limited_total', { limit: 'admin_publish' })).toBe(1)
    expect(limited.headers.get('retry-after')).toBe('1')
    await expectRateLimited(await server.broadcast({ type: 'three' }))
    clock.advance(600)
    expect((await server.broadcast({ type: 'four' })).status).toBe(202)
  })
})

describe('origins and CORS on /api', () => {
  test('by default: no Origin and the same origin pass, any other origin is refused with 403 FORBIDDEN', async () => {
    const server = await serve()
    const plain = await fetch(`${server.url}/api/config`)
    expect(plain.status).toBe(200)
    expect(plain.headers.get('access-control-allow-origin')).toBeNull()
    expect(plain.headers.get('vary')).toContain('Origin')

    const same = await fetch(`${server.url}/api/config`, { headers: { origin: server.url } })
    expect(same.status).toBe(200)
    expect(same.headers.get('access-control-allow-origin')).toBe(server.url)

    for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${server.herald.port + 1}`]) {
      const refused = await nonce(server.url, { origin })
      expect(refused.status).toBe(403)
      expect(refused.headers.get('access-control-allow-origin')).toBeNull()
      expect(((await refused.json()) as ErrorBody).error.code).toBe('FORBIDDEN')
    }
    // Preflights: the same origin gets one, another origin is refused.
    const preflight = (origin: string) =>
      fetch(`${server.url}/api/auth/verify`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      })
    expect((await preflight(server.url)).status).toBe(204)
    expect((await preflight('https://evil.example')).status).toBe(403)
    // Outside /api nothing changes: the web app, health and metrics have no CORS.
    const health = await fetch(`${server.url}/health`, { headers: { origin: 'https://evil.example' } })
    expect(health.status).toBe(200)
    expect(health.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('ALLOWED_ORIGINS: the listed origin gets CORS answers and its preflight; others are refused', async () => {
    const server = await serve({ ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173' })
    const origin = 'https://app.example.com'
    const preflight = await fetch(`${server.url}/api/notifications`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin)
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization')
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type')
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull()

    // The actual request: the answer (an error too) names the origin, so the browser lets the page read it.
    const session = await signIn(server.url)
    const listed = await fetch(`${server.url}/api/me`, {
      headers: { origin, authorization: `Bearer ${session.token}` },
    })
    expect(listed.status).toBe(200)
    expect(listed.headers.get('access-control-allow-origin')).toBe(origin)
    const unauthorized = await fetch(`${server.url}/api/me`, { headers: { origin } })
    expect(unauthorized.status).toBe(401)
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe(origin)
    expect(unauthorized.headers.get('access-control-expose-headers')).toContain('Retry-After')

    expect(
      (await fetch(`${server.url}/api/config`, { headers: { origin: 'http://localhost:5173' } })).status,
    ).toBe(200)
    expect(
      (await fetch(`${server.url}/api/config`, { headers: { origin: 'https://app.example.com.evil' } }))
        .status,
    ).toBe(403)
    // OPTIONS that is not a preflight (no Origin) stays what it was: an unknown route.
    expect((await fetch(`${server.url}/api/config`, { method: 'OPTIONS' })).status).toBe(404)
  })
})

describe('security headers', () => {
  test('every response carries them: JSON, errors, 429s, the web app, metrics', async () => {
    const server = await serve({ AUTH_RATE_PER_MINUTE: '1' })
    await nonce(server.url)
    const responses = [
      await fetch(`${server.url}/health`),
      await fetch(`${server.url}/api/config`),
      await fetch(`${server.url}/metrics`),
      await fetch(`${server.url}/api/nope`),
      await fetch(`${server.url}/api/me`),
      await nonce(server.url),
      await fetch(`${server.url}/api/config`, { headers: { origin: 'https://evil.example' } }),
      await fetch(`${server.url}/`),
      await fetch(`${server.url}/some/client/route`),
    ]
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 404, 401, 429, 403, 200, 200])
    for (const response of responses) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff')
      expect(response.headers.get('referrer-policy')).toBe('no-referrer')
      expect(response.headers.get('x-frame-options')).toBe('DENY')
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    }
    // The web app's HTML: its own scripts and styles only, network to this server.
    for (const page of responses.slice(-2)) {
      expect(page.headers.get('content-type')).toContain('text/html')
      const policy = page.headers.get('content-security-policy')!
      expect(policy).toContain("script-src 'self'")
      expect(policy).toContain("object-src 'none'")
      expect(policy).toContain(`connect-src 'self' ws://${new URL(server.url).host}`)
    }
  })

  test("the web app's policy admits the chain's RPC origin from /api/config and nothing else", () => {
    const policy = webAppPolicy('http://127.0.0.1:8545/some/path?key=secret')('localhost:3000')
    expect(policy).toContain(
      "connect-src 'self' ws://localhost:3000 wss://localhost:3000 http://127.0.0.1:8545;",
    )
    expect(policy).not.toContain('secret')
    expect(webAppPolicy(null)(null)).toContain("connect-src 'self';")
    // A Host header that is not a plain host:port is not copied into the policy.
    expect(webAppPolicy(null)('evil; script-src *')).toContain("connect-src 'self';")
  })
})
