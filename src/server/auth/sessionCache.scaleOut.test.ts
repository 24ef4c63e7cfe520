import { afterAll, describe, expect, test } from 'bun:test'
import { useHeraldPair } from '../../../test/helpers/heraldPair'
import { metricValue } from '../../../test/helpers/metrics'
import { rawUpgrade } from '../../../test/helpers/rawUpgrade'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'

/**
 * Sessions served from memory on two instances (real processes, one PostgreSQL, its LISTEN/NOTIFY bus): a
 * sign-in on one instance is accepted on the other without reading the session; a logout closes the session's
 * sockets on both within a second, and both refuse the token afterwards, from memory, whether it comes in an
 * `auth` message or the upgrade's `?token=`. Only with HERALD_TEST_DATABASE_URL.
 */

const ADMIN_KEY = 'session-cache-admin-key-0123456789'
const sockets: TestSocket[] = []
afterAll(() => {
  for (const socket of sockets) socket.close()
})

describe.skipIf(!usingPostgres())('sessions from memory, revoked everywhere (PostgreSQL bus)', () => {
  const pair = useHeraldPair(ADMIN_KEY)
  const memoryChecks = (url: string) => metricValue(url, 'herald_session_checks_total', { source: 'memory' })

  test('a logout on one instance closes the sockets on both within a second; both refuse the token', async () => {
    const { a, b } = pair
    const session = await signIn(a.url)
    const other = await signIn(a.url)
    const before = await memoryChecks(b.url)
    const tabs = [
      await connectAuthenticated(a.wsUrl, session.token),
      await connectAuthenticated(b.wsUrl, session.token),
      await connectAuthenticated(b.wsUrl, session.token),
    ]
    const bystander = await connectAuthenticated(b.wsUrl, other.token)
    sockets.push(...tabs, bystander)
    // b never saw the sign-in: it answered from memory (the token and its revocation list).
    expect(await memoryChecks(b.url)).toBe(before + 3)

    const started = performance.now()
    const response = await fetch(`${a.url}/api/auth/logout`, {
      method: 'POST',
      headers: bearer(session.token),
    })
    expect(response.status).toBe(204)
    const closed = await Promise.all(tabs.map((tab) => tab.closed))
    const elapsed = performance.now() - started
    for (const close of closed) expect(close.code).toBe(4001)
    expect(elapsed).toBeLessThan(1000)

    // Refused on both, from memory: by the auth message…
    for (const instance of [a, b]) {
      const socket = connectSocket(instance.wsUrl)
      sockets.push(socket)
      await socket.next('connected')
      socket.send({ type: 'auth', token: session.token })
      expect(await socket.next('error')).toMatchObject({ code: 'UNAUTHORIZED' })
      expect((await socket.closed).code).toBe(4001)
    }
    // …and at the upgrade.
    expect((await rawUpgrade(`${b.wsUrl}?token=${session.token}`)).status).toBe(401)
    // Another session of the same deployment is untouched.
    bystander.send({ type: 'ping' })
    await bystander.next('pong')
  }, 30_000)
})
