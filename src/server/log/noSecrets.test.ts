import { expect, test } from 'bun:test'
import { captureStderr } from '../../../test/helpers/captureStderr'
import { ADMIN_KEY, startTestServer } from '../../../test/helpers/testServer'
import { bearer, newAccount, signIn, trySignIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket } from '../../../test/helpers/wsClient'

const JWT_SECRET = 'test-secret-test-secret-test-secret-0123'

/**
 * Logs are read by more people and systems than sessions are: whatever Herald logs at its most verbose level
 * during sign-in, token use on HTTP and WebSocket (including the `?token=` form, whose URL proxies would log),
 * refused tokens and keys, publishing and logout must contain no token, key, secret or signature.
 */
test('nothing secret reaches the logs, even at LOG_LEVEL=debug', async () => {
  const secrets: string[] = [JWT_SECRET, ADMIN_KEY]
  const { written: log } = await captureStderr(async () => {
    const server = await startTestServer({ LOG_LEVEL: 'debug', JWT_SECRET })
    try {
      const session = await signIn(server.url)
      secrets.push(session.token)
      // A rejected sign-in (signed by another key) is logged at debug with its reason.
      const rejected = await trySignIn(server.url, newAccount(), { signer: newAccount() })
      expect(rejected.response.status).toBe(401)
      secrets.push(rejected.signature)
      // So is one outside the EIP-4361 grammar, with the line where it broke.
      const malformed = await trySignIn(server.url, newAccount(), { message: { statement: 'Say "hi"' } })
      expect(malformed.response.status).toBe(401)
      secrets.push(malformed.signature)

      const refreshed = await fetch(`${server.url}/api/auth/refresh`, {
        method: 'POST',
        headers: bearer(session.token),
      })
      const fresh = ((await refreshed.json()) as { token: string }).token
      secrets.push(fresh)

      const wrongKey = 'wrong-admin-key-that-must-not-be-logged'
      secrets.push(wrongKey)
      expect(
        (
          await fetch(`${server.url}/api/admin/broadcast`, {
            method: 'POST',
            headers: { ...bearer(wrongKey), 'content-type': 'application/json' },
            body: '{"message":{"type":"x"}}',
          })
        ).status,
      ).toBe(401)
      const forged = `${fresh.slice(0, -4)}AAAA`
      secrets.push(forged)
      expect((await fetch(`${server.url}/api/me`, { headers: bearer(forged) })).status).toBe(401)

      const live = await connectAuthenticated(server.wsUrl, fresh)
      const viaUrl = connectSocket(`${server.wsUrl}?token=${encodeURIComponent(fresh)}`)
      await viaUrl.next('authenticated')
      const refusedUrl = await fetch(`${server.url}/ws?token=${encodeURIComponent(forged)}`, {
        headers: {
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      })
      expect(refusedUrl.status).toBe(401)
      const badAuth = connectSocket(server.wsUrl)
      await badAuth.next('connected')
      badAuth.send({ type: 'auth', token: forged })
      expect((await badAuth.closed).code).toBe(4001)

      expect(
        (await server.publish({ userId: session.user.id, type: 't', title: 'hello', message: 'world' }))
          .status,
      ).toBe(201)
      await live.next('notification')
      expect(
        (await fetch(`${server.url}/api/auth/logout`, { method: 'POST', headers: bearer(fresh) })).status,
      ).toBe(204)
      await live.closed
      viaUrl.close()
    } finally {
      await server.stop()
    }
  })
  // The capture worked: the server logged its start and the rejected sign-in.
  expect(log).toContain('herald listening')
  expect(log).toContain('sign-in rejected')
  expect(log).toContain('not an EIP-4361 message')
  for (const secret of secrets) expect(log.includes(secret)).toBe(false)
  // No JWT-shaped string at all (three base64url parts starting with a JSON header).
  expect(log).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/)
}, 60_000)
