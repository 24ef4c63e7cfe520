import { describe, expect, test } from 'bun:test'
import { createManualClock } from '../../../test/helpers/manualClock'
import { metricValue } from '../../../test/helpers/metrics'
import { rawUpgrade as upgrade } from '../../../test/helpers/rawUpgrade'
import { serversPerTest } from '../../../test/helpers/testServer'
import { until } from '../../../test/helpers/until'
import { signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'

// WebSocket abuse limits, each against a real server through real sockets: new connections per IP per second
// (HTTP 429 at the upgrade), unauthenticated connections per IP (RATE_LIMITED, 4008), the optional
// authentication deadline (UNAUTHORIZED, 4001), messages per user across connections (RATE_LIMITED, 4008)
// and the Origin check (HTTP 403).

type ErrorFrame = { type: 'error'; code: string; message: string }

/** A WebSocket with request headers (Bun's client takes them), recorded like the helpers' sockets. */
function connectWith(wsUrl: string, headers: Record<string, string>) {
  const ws = new WebSocket(wsUrl, { headers } as unknown as string[])
  const messages: { type: string; [key: string]: unknown }[] = []
  ws.onmessage = (event) => messages.push(JSON.parse(String(event.data)))
  const closed = new Promise<{ code: number }>((resolve) => {
    ws.onclose = (event) => resolve({ code: event.code })
  })
  const opened = new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error('WebSocket failed'))
  })
  return { ws, messages, closed, opened }
}

const isOpen = (socket: TestSocket) => socket.ws.readyState === WebSocket.OPEN

async function closeAll(sockets: TestSocket[]): Promise<void> {
  for (const s of sockets) s.close()
  await Promise.all(sockets.map((s) => s.closed))
}

const serve = serversPerTest()

describe('WS_CONNECTIONS_PER_SECOND_PER_IP', () => {
  test('past the burst the upgrade answers 429 RATE_LIMITED with Retry-After; the budget refills', async () => {
    // The limiter's clock moves only when the test moves it: no refill during the burst, however slow the machine.
    const clock = createManualClock()
    const server = await serve({ WS_CONNECTIONS_PER_SECOND_PER_IP: '2' }, { clock })
    // Burst of twice the rate: four upgrades at once, then one is refused.
    for (let i = 0; i < 4; i++) expect((await upgrade(server.wsUrl)).status).toBe(101)
    const refused = await upgrade(server.wsUrl)
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.headers['content-type']).toContain('application/json')
    expect(JSON.parse(refused.body)).toEqual({
      error: { code: 'RATE_LIMITED', message: expect.any(String) },
    })
    expect(await metricValue(server.url, 'herald_rate_limited_total', { limit: 'ws_upgrade' })).toBe(1)
    // Two per second come back.
    clock.advance(600)
    expect((await upgrade(server.wsUrl)).status).toBe(101)
  })

  test('X-Forwarded-For counts only with TRUST_PROXY: each forwarded address has its own budget', async () => {
    // Time stands still: a budget of one per second cannot refill between the upgrades.
    const clock = createManualClock()
    const untrusting = await serve({ WS_CONNECTIONS_PER_SECOND_PER_IP: '1' }, { clock })
    for (let i = 0; i < 2; i++)
      expect((await upgrade(untrusting.wsUrl, { 'X-Forwarded-For': `203.0.113.${i}` })).status).toBe(101)
    // A client cannot pick a fresh address for itself.
    expect((await upgrade(untrusting.wsUrl, { 'X-Forwarded-For': '203.0.113.9' })).status).toBe(429)

    const behindProxy = await serve({ WS_CONNECTIONS_PER_SECOND_PER_IP: '1', TRUST_PROXY: 'true' }, { clock })
    const from = (ip: string) => upgrade(behindProxy.wsUrl, { 'X-Forwarded-For': `${ip}, 10.0.0.1` })
    expect((await from('203.0.113.1')).status).toBe(101)
    expect((await from('203.0.113.1')).status).toBe(101)
    expect((await from('203.0.113.1')).status).toBe(429)
    expect((await from('203.0.113.2')).status).toBe(101)
  })
})

describe('Origin', () => {
  test('an upgrade from another site is refused with 403 FORBIDDEN; same origin and no Origin pass', async () => {
    const server = await serve({})
    const refused = await upgrade(server.wsUrl, { Origin: 'https://evil.example' })
    expect(refused.status).toBe(403)
    expect(JSON.parse(refused.body)).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } })
    expect((await upgrade(server.wsUrl, { Origin: 'null' })).status).toBe(403)
    // The web app served by this server: its Origin names the host the request went to.
    expect((await upgrade(server.wsUrl, { Origin: server.url })).status).toBe(101)
    const port = server.herald.port
    expect(
      (await upgrade(server.wsUrl.replace('127.0.0.1', 'localhost'), { Origin: `http://localhost:${port}` }))
        .status,
    ).toBe(101)
    // Not a browser: no Origin at all.
    expect((await upgrade(server.wsUrl)).status).toBe(101)
  })

  test('ALLOWED_ORIGINS admits the listed origins (and * any)', async () => {
    const server = await serve({ ALLOWED_ORIGINS: 'https://app.example.com' })
    expect((await upgrade(server.wsUrl, { Origin: 'https://app.example.com' })).status).toBe(101)
    expect((await upgrade(server.wsUrl, { Origin: 'https://other.example.com' })).status).toBe(403)
    expect((await upgrade(server.wsUrl, { Origin: server.url })).status).toBe(101)
    const open = await serve({ ALLOWED_ORIGINS: '*' })
    expect((await upgrade(open.wsUrl, { Origin: 'https://anyone.example' })).status).toBe(101)
  })
})

describe('MAX_ANONYMOUS_CONNECTIONS_PER_IP', () => {
  test('the next unauthenticated connection gets RATE_LIMITED and 4008; authenticating or closing frees a place', async () => {
    const server = await serve({ MAX_ANONYMOUS_CONNECTIONS_PER_IP: '3' })
    const session = await signIn(server.url)
    const anonymous = [connectSocket(server.wsUrl), connectSocket(server.wsUrl), connectSocket(server.wsUrl)]
    await Promise.all(anonymous.map((s) => s.next('connected')))

    const fourth = connectSocket(server.wsUrl)
    const error = await fourth.next<ErrorFrame>('error')
    expect(error.code).toBe('RATE_LIMITED')
    expect((await fourth.closed).code).toBe(4008)
    expect(await metricValue(server.url, 'herald_rate_limited_total', { limit: 'ws_anonymous' })).toBe(1)
    // The others are untouched.
    for (const socket of anonymous) expect(isOpen(socket)).toBe(true)

    // Signed-in connections are not anonymous: ?token= never counts, and one that authenticates leaves the count.
    const viaQuery = connectSocket(`${server.wsUrl}?token=${encodeURIComponent(session.token)}`)
    await viaQuery.next('authenticated')
    anonymous[0]!.send({ type: 'auth', token: session.token })
    await anonymous[0]!.next('authenticated')
    const fifth = connectSocket(server.wsUrl)
    await fifth.next('connected')
    const sixth = connectSocket(server.wsUrl)
    expect((await sixth.closed).code).toBe(4008)

    // Closing one frees its place.
    fifth.close()
    await until(
      'the server to drop the socket',
      () => server.herald.connectionCount === 4 || undefined,
      3000,
      5,
    )
    const seventh = connectSocket(server.wsUrl)
    await seventh.next('connected')
    await closeAll([...anonymous, viaQuery, seventh])
  })

  test('with TRUST_PROXY each forwarded address has its own count', async () => {
    const server = await serve({ MAX_ANONYMOUS_CONNECTIONS_PER_IP: '1', TRUST_PROXY: 'true' })
    const a = connectWith(server.wsUrl, { 'X-Forwarded-For': '198.51.100.1' })
    const b = connectWith(server.wsUrl, { 'X-Forwarded-For': '198.51.100.2' })
    await Promise.all([a.opened, b.opened])
    await until(
      'connected on both',
      () => (a.messages.length > 0 && b.messages.length > 0) || undefined,
      3000,
      5,
    )
    expect([a.messages[0]!.type, b.messages[0]!.type]).toEqual(['connected', 'connected'])
    const again = connectWith(server.wsUrl, { 'X-Forwarded-For': '198.51.100.1' })
    expect((await again.closed).code).toBe(4008)
    expect(again.messages.map((m) => m.code)).toEqual(['RATE_LIMITED'])
    a.ws.close()
    b.ws.close()
    await Promise.all([a.closed, b.closed])
  })
})

describe('AUTH_TIMEOUT_SECONDS', () => {
  // The deadlines run on the server's clock: the test moves it instead of waiting.
  test('off by default: an anonymous connection stays and receives broadcasts', async () => {
    const clock = createManualClock()
    const server = await serve({}, { clock })
    expect(server.herald.config.authTimeoutSeconds).toBe(0)
    const anonymous = connectSocket(server.wsUrl)
    await anonymous.next('connected')
    clock.advance(1500)
    expect((await server.broadcast({ type: 'announcement' })).status).toBe(202)
    await anonymous.next('announcement')
    await closeAll([anonymous])
  })

  test('when set, a connection not authenticated in time gets UNAUTHORIZED and 4001; authenticated ones stay', async () => {
    const clock = createManualClock()
    const server = await serve({ AUTH_TIMEOUT_SECONDS: '1' }, { clock })
    const session = await signIn(server.url)
    const started = clock.now()
    const idle = connectSocket(server.wsUrl)
    await idle.next('connected')
    const authed = await connectAuthenticated(server.wsUrl, session.token)
    const viaQuery = connectSocket(`${server.wsUrl}?token=${encodeURIComponent(session.token)}`)
    await viaQuery.next('authenticated')

    // A millisecond before the deadline the anonymous socket is still served; at the deadline it is refused.
    clock.advance(999)
    idle.send({ type: 'ping' })
    await idle.next('pong')
    expect(idle.messages.some((m) => m.type === 'error')).toBe(false)
    clock.advance(1)
    const error = await idle.next<ErrorFrame>('error', 5000)
    expect(error.code).toBe('UNAUTHORIZED')
    expect((await idle.closed).code).toBe(4001)
    expect(clock.now() - started).toBe(1000)

    clock.advance(500)
    for (const socket of [authed, viaQuery]) {
      socket.send({ type: 'ping' })
      await socket.next('pong')
    }
    await closeAll([authed, viaQuery])
  })
})

describe('WS_USER_MESSAGES_PER_SECOND', () => {
  test("one user's connections share a budget: past it the sending one gets RATE_LIMITED and 4008", async () => {
    const server = await serve({ WS_USER_MESSAGES_PER_SECOND: '5', WS_MESSAGES_PER_SECOND: '50' })
    const [alice, bob] = await Promise.all([signIn(server.url), signIn(server.url)])
    const first = await connectAuthenticated(server.wsUrl, alice.token)
    const second = await connectAuthenticated(server.wsUrl, alice.token)
    const other = await connectAuthenticated(server.wsUrl, bob.token)

    // The burst is twice the rate: ten from the first connection pass (each well within its own budget) …
    for (let i = 0; i < 10; i++) first.send({ type: 'ping' })
    await first.collect('pong', 10)
    // … and the second connection of the same user is over the user's budget.
    for (let i = 0; i < 5; i++) second.send({ type: 'ping' })
    const error = await second.next<ErrorFrame>('error')
    expect(error.code).toBe('RATE_LIMITED')
    expect((await second.closed).code).toBe(4008)
    expect(await metricValue(server.url, 'herald_rate_limited_total', { limit: 'ws_user_messages' })).toBe(1)

    // Another user has a budget of their own.
    for (let i = 0; i < 5; i++) other.send({ type: 'ping' })
    await other.collect('pong', 5)
    expect(isOpen(first)).toBe(true)
    await closeAll([first, other])
  })
})
