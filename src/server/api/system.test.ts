import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import packageJson from '../../../package.json'
import { createTestDatabase } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated } from '../../../test/helpers/wsClient'

// Health and operations (contract §1 "Health and operations"), plus the OpenAPI document.

let server: TestServer
// Starting a server on a fresh PGlite takes seconds on a busy machine: more than the default hook timeout.
beforeAll(async () => {
  server = await startTestServer()
}, 30_000)
afterAll(async () => {
  await server.stop()
}, 30_000)

const HEALTH_KEYS = ['chain', 'db', 'role', 'status']

describe('GET /health', () => {
  test('200 {status: ok, db: ok, chain, role: all}', async () => {
    const response = await fetch(`${server.url}/health`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type') ?? '').toStartWith('application/json')
    const body = (await response.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(HEALTH_KEYS)
    // No chain is configured in tests, so it is reported unavailable without failing the health check.
    expect(body).toEqual({ status: 'ok', db: 'ok', chain: 'unavailable', role: 'all' })
  })

  test('the role is the configured ROLE: a server-only instance says so', async () => {
    // Same database, second instance: cheap, and shows the role is reported rather than hard-coded.
    const apiOnly = await startTestServer(
      { ROLE: 'server' },
      { database: server.database, keepDatabase: true },
    )
    try {
      const body = await (await fetch(`${apiOnly.url}/health`)).json()
      expect(body).toEqual({ status: 'ok', db: 'ok', chain: 'unavailable', role: 'server' })
    } finally {
      await apiOnly.stop()
    }
  }, 30_000)

  test('503 with the same shape, quickly, when the database is unreachable', async () => {
    const database = await createTestDatabase()
    const doomed = await startTestServer({}, { database, keepDatabase: true })
    try {
      expect((await fetch(`${doomed.url}/health`)).status).toBe(200)
      // The database goes away underneath the running server.
      await database.close()
      const started = performance.now()
      const response = await fetch(`${doomed.url}/health`)
      const elapsed = performance.now() - started
      expect(response.status).toBe(503)
      const body = (await response.json()) as Record<string, unknown>
      expect(Object.keys(body).sort()).toEqual(HEALTH_KEYS)
      expect(body).toEqual({ status: 'unavailable', db: 'unavailable', chain: 'unavailable', role: 'all' })
      // The check is bounded (it never waits on a dead database for long).
      expect(elapsed).toBeLessThan(3000)
      // The process keeps answering: config needs no database.
      expect((await fetch(`${doomed.url}/api/config`)).status).toBe(200)
    } finally {
      await doomed.stop()
    }
  }, 30_000)
})

describe('GET /api/config', () => {
  test('{chainId, rpcUrl, siweDomain, version, deployerAddress}, the domain being where clients reach this server', async () => {
    const response = await fetch(`${server.url}/api/config`)
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual([
      'chainId',
      'deployerAddress',
      'rpcUrl',
      'siweDomain',
      'version',
    ])
    expect(Number.isInteger(body.chainId)).toBe(true)
    // No chain in tests: the local development chain id, and no RPC URL to hand out.
    expect(body.chainId).toBe(31337)
    expect(body.rpcUrl).toBeNull()
    expect(body.deployerAddress).toBeNull()
    expect(body.siweDomain).toBe(new URL(server.url).host)
    expect(body.version).toBe(packageJson.version)
  })

  test('CHAIN_ID and SIWE_DOMAINS show up in it', async () => {
    const configured = await startTestServer(
      { CHAIN_ID: '8453', SIWE_DOMAINS: 'app.example.com,localhost:5173' },
      { database: server.database, keepDatabase: true },
    )
    try {
      const body = await (await fetch(`${configured.url}/api/config`)).json()
      expect(body).toEqual({
        chainId: 8453,
        rpcUrl: null,
        deployerAddress: null,
        siweDomain: 'app.example.com',
        version: packageJson.version,
      })
    } finally {
      await configured.stop()
    }
  }, 30_000)
})

describe('GET /metrics', () => {
  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type') ?? '').toStartWith('text/plain')
    return response.text()
  }
  const value = (text: string, name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `))
    return line === undefined ? undefined : Number(line.slice(name.length + 1))
  }

  test('Prometheus text with the contract metrics', async () => {
    const text = await scrape()
    for (const [name, type] of [
      ['herald_ws_connections', 'gauge'],
      ['herald_ws_authenticated_users', 'gauge'],
      ['herald_ws_messages_sent_total', 'counter'],
      ['herald_ws_send_failures_total', 'counter'],
      ['herald_notifications_created_total', 'counter'],
      ['herald_rate_limited_total', 'counter'],
      ['herald_notification_delivery_seconds', 'histogram'],
    ]) {
      expect(text).toContain(`# HELP ${name} `)
      expect(text).toContain(`# TYPE ${name} ${type}`)
    }
    expect(text).toContain('herald_notification_delivery_seconds_bucket{le="+Inf"}')
    expect(text).toContain('herald_notification_delivery_seconds_count')
    // Every sample line is `name{labels} value`.
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfNa]+$/)
    }
  })

  test('the numbers move: connections, notifications created, delivery latency', async () => {
    const before = await scrape()
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const response = await server.publish({ userId: session.user.id, type: 't', title: 'm', message: 'x' })
    expect(response.status).toBe(201)
    await socket.next('notification')

    const after = await scrape()
    expect(value(after, 'herald_ws_connections')).toBe((value(before, 'herald_ws_connections') ?? 0) + 1)
    expect(value(after, 'herald_notifications_created_total')).toBe(
      (value(before, 'herald_notifications_created_total') ?? 0) + 1,
    )
    expect(value(after, 'herald_notification_delivery_seconds_count')).toBe(
      (value(before, 'herald_notification_delivery_seconds_count') ?? 0) + 1,
    )
    socket.close()
    await socket.closed
  })

  test('needs no credentials, and a bearer token does not change it', async () => {
    const session = await signIn(server.url)
    const response = await fetch(`${server.url}/metrics`, { headers: bearer(session.token) })
    expect(response.status).toBe(200)
  })
})

describe('GET /openapi/json', () => {
  test('an OpenAPI 3 document listing the notification, auth and admin routes', async () => {
    const response = await fetch(`${server.url}/openapi/json`)
    expect(response.status).toBe(200)
    const doc = (await response.json()) as {
      openapi: string
      info: { title: string; version: string }
      paths: Record<string, Record<string, unknown>>
    }
    expect(doc.openapi).toMatch(/^3\./)
    expect(doc.info.title).toBe('Herald')
    expect(doc.info.version).toBe(packageJson.version)
    // Elysia may render the prefix root with or without a trailing slash.
    const paths = new Map(Object.entries(doc.paths).map(([path, ops]) => [path.replace(/(.)\/$/, '$1'), ops]))
    const expected: [string, string][] = [
      ['/api/notifications', 'get'],
      ['/api/notifications/unread-count', 'get'],
      ['/api/notifications/read-all', 'post'],
      ['/api/notifications/{id}/read', 'post'],
      ['/api/auth/nonce', 'post'],
      ['/api/auth/verify', 'post'],
      ['/api/admin/notifications', 'post'],
      ['/api/admin/broadcast', 'post'],
      ['/health', 'get'],
      ['/api/config', 'get'],
    ]
    for (const [path, method] of expected) {
      expect({ path, has: Boolean(paths.get(path)?.[method]) }).toEqual({ path, has: true })
    }
  })
})
