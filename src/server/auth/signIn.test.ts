import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { SignJWT, UnsecuredJWT } from 'jose'
import { getAddress, type PrivateKeyAccount } from 'viem'
import { createSiweMessage } from 'viem/siwe'
import { createManualClock } from '../../../test/helpers/manualClock'
import { rawUpgrade } from '../../../test/helpers/rawUpgrade'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, getNonce, newAccount, type Session, signIn, trySignIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import type { Clock } from '../time/clock'

// The secret test/helpers/testServer.ts configures: lets a test forge well-signed tokens for sessions that
// do not exist or have expired.
const TEST_SECRET = 'test-secret-test-secret-test-secret-0123'

// A fresh database takes a few seconds on a busy machine; a test's own waits are at most a few seconds.
setDefaultTimeout(30_000)

let server: TestServer
beforeAll(async () => {
  // This file signs in far more often than one address would: AUTH_RATE_PER_MINUTE has tests of its own.
  server = await startTestServer({ AUTH_RATE_PER_MINUTE: '10000' })
}, 30_000)
afterAll(async () => {
  await server.stop()
})

/**
 * Another instance with its own settings on the same database, as a second server would run in production;
 * with `clock`, its time (nonces, tokens, deadlines) moves only when the test moves it.
 */
const startSibling = (env: Record<string, string>, clock?: Clock) =>
  startTestServer(env, { database: server.database, keepDatabase: true, clock })

type ErrorBody = { error: { code: string; message: string } }
type WsError = { type: 'error'; code: string; message: string }
type Authenticated = { type: 'authenticated'; userId: string; address: string; expiresAt: string }
type SessionBody = { token: string; expiresAt: string; user: { id: string; address: string } }

async function siweConfig(url: string) {
  return (await (await fetch(`${url}/api/config`)).json()) as { chainId: number; siweDomain: string }
}

/** A well-formed EIP-4361 message for `url`'s server with a fresh nonce, before anyone signs it. */
async function buildMessage(url: string, account: PrivateKeyAccount) {
  const config = await siweConfig(url)
  const nonce = await getNonce(url)
  const message = createSiweMessage({
    address: account.address,
    chainId: config.chainId,
    domain: config.siweDomain,
    nonce,
    uri: `http://${config.siweDomain}/`,
    version: '1',
    issuedAt: new Date(),
  })
  return { message, nonce }
}

const verify = (url: string, message: string, signature: string) =>
  fetch(`${url}/api/auth/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  })

const me = (token: string, url = server.url) => fetch(`${url}/api/me`, { headers: bearer(token) })
const post = (path: string, token: string, url = server.url) =>
  fetch(`${url}${path}`, { method: 'POST', headers: bearer(token) })

/** Every rejection must be indistinguishable: 401, SIWE_INVALID and one message for all reasons. */
const rejections: { reason: string; message: string }[] = []
async function expectRejected(response: Response, reason: string) {
  const body = (await response.json()) as ErrorBody
  expect({ reason, status: response.status, code: body.error?.code }).toEqual({
    reason,
    status: 401,
    code: 'SIWE_INVALID',
  })
  expect(typeof body.error.message).toBe('string')
  rejections.push({ reason, message: body.error.message })
}

async function expectUnauthorized(response: Response) {
  expect(response.status).toBe(401)
  const body = (await response.json()) as ErrorBody
  expect(body.error.code).toBe('UNAUTHORIZED')
  expect(body.error.message.length).toBeGreaterThan(0)
}

/** The status of a real HTTP/1.1 upgrade request (101 on success). */
const upgradeStatus = async (wsUrl: string) => (await rawUpgrade(wsUrl)).status

const isOpen = (socket: TestSocket) => socket.ws.readyState === WebSocket.OPEN

describe('nonces', () => {
  test('a nonce is ≥ 16 letters and digits, unique, and comes with its expiry', async () => {
    const before = Date.now()
    const responses = await Promise.all(
      [1, 2, 3].map(() => fetch(`${server.url}/api/auth/nonce`, { method: 'POST' })),
    )
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as {
      nonce: string
      expiresAt: string
    }[]
    for (const [i, body] of bodies.entries()) {
      expect(responses[i]!.status).toBe(200)
      expect(body.nonce).toMatch(/^[A-Za-z0-9]{16,}$/)
      // Default lifetime: 10 minutes.
      const expiresAt = Date.parse(body.expiresAt)
      expect(new Date(expiresAt).toISOString()).toBe(body.expiresAt)
      expect(expiresAt).toBeGreaterThanOrEqual(before + 600_000 - 1000)
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000 + 1000)
    }
    expect(new Set(bodies.map((b) => b.nonce)).size).toBe(3)
  })
})

describe('sign-in', () => {
  test('a real signature opens a session: token, expiry, checksummed address; /api/me answers', async () => {
    const account = newAccount()
    const before = Date.now()
    const { response } = await trySignIn(server.url, account)
    expect(response.status).toBe(200)
    const body = (await response.json()) as SessionBody
    expect(body.token.split('.')).toHaveLength(3)
    expect(body.user.id).toMatch(/^\d+$/)
    expect(body.user.address).toBe(account.address)
    expect(getAddress(body.user.address)).toBe(body.user.address as `0x${string}`)
    // Default token lifetime: one hour.
    const expiresAt = Date.parse(body.expiresAt)
    expect(new Date(expiresAt).toISOString()).toBe(body.expiresAt)
    expect(expiresAt).toBeGreaterThan(before + 3600_000 - 2000)
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000)

    const response2 = await me(body.token)
    expect(response2.status).toBe(200)
    expect(await response2.json()).toEqual({ id: body.user.id, address: account.address })

    // Signing in again is the same user, in a new session with its own token.
    const again = await signIn(server.url, account)
    expect(again.user).toEqual(body.user)
    expect(again.token).not.toBe(body.token)
  })

  test('a reused nonce is refused', async () => {
    const account = newAccount()
    const first = await trySignIn(server.url, account)
    expect(first.response.status).toBe(200)
    const second = await trySignIn(server.url, account, { nonce: first.nonce })
    await expectRejected(second.response, 'reused nonce')
  })

  test('a nonce this server never issued is refused', async () => {
    const { response } = await trySignIn(server.url, newAccount(), {
      nonce: 'abcdef0123456789abcdef0123456789',
    })
    await expectRejected(response, 'unknown nonce')
  })

  test('a nonce past its lifetime is refused', async () => {
    const clock = createManualClock()
    const short = await startSibling({ NONCE_TTL_SECONDS: '1' }, clock)
    try {
      const nonce = await getNonce(short.url)
      clock.advance(1100)
      const { response } = await trySignIn(short.url, newAccount(), { nonce })
      await expectRejected(response, 'expired nonce')
      // A fresh nonce on the same server works: only the old one was refused.
      await signIn(short.url)
    } finally {
      await short.stop()
    }
  })

  test('a domain the server does not accept is refused', async () => {
    const { response } = await trySignIn(server.url, newAccount(), {
      message: { domain: 'evil.example.com', uri: 'https://evil.example.com/' },
    })
    await expectRejected(response, 'wrong domain')
  })

  test('a uri that is not on the message domain is refused', async () => {
    const { response } = await trySignIn(server.url, newAccount(), {
      message: { uri: 'https://evil.example.com/' },
    })
    await expectRejected(response, 'uri off the domain')
  })

  test('a chain id the server does not accept is refused', async () => {
    const config = await siweConfig(server.url)
    const { response } = await trySignIn(server.url, newAccount(), {
      message: { chainId: config.chainId === 1 ? 5 : 1 },
    })
    await expectRejected(response, 'wrong chain id')
  })

  test('a message past its expirationTime is refused', async () => {
    const { response } = await trySignIn(server.url, newAccount(), {
      message: { issuedAt: new Date(Date.now() - 120_000), expirationTime: new Date(Date.now() - 60_000) },
    })
    await expectRejected(response, 'expired message')
  })

  test('a message whose notBefore is still ahead is refused', async () => {
    const { response } = await trySignIn(server.url, newAccount(), {
      message: { notBefore: new Date(Date.now() + 60_000) },
    })
    await expectRejected(response, 'notBefore in the future')
  })

  test('a message whose expirationTime and notBefore hold is accepted', async () => {
    const { response } = await trySignIn(server.url, newAccount(), {
      message: { notBefore: new Date(Date.now() - 60_000), expirationTime: new Date(Date.now() + 60_000) },
    })
    expect(response.status).toBe(200)
  })

  test('a signature from another key is refused, and the failure still consumes the nonce', async () => {
    const account = newAccount()
    const failed = await trySignIn(server.url, account, { signer: newAccount() })
    await expectRejected(failed.response, 'signature from another key')
    // The right signature over the same nonce comes too late: the failed attempt used it up.
    const retry = await trySignIn(server.url, account, { nonce: failed.nonce })
    await expectRejected(retry.response, 'nonce consumed by a failed verify')
  })

  test('malformed signatures are refused like any other failure', async () => {
    for (const signature of ['0x1234', 'zz', '0x', `0x${'00'.repeat(65)}`, `0x${'zz'.repeat(65)}`]) {
      const { message } = await buildMessage(server.url, newAccount())
      await expectRejected(await verify(server.url, message, signature), `malformed signature ${signature}`)
    }
  })

  test('a message that does not parse is refused', async () => {
    const account = newAccount()
    const message = 'Please let me in.\nNonce: abcdef0123456789'
    await expectRejected(
      await verify(server.url, message, await account.signMessage({ message })),
      'message does not parse',
    )
  })

  test('a message without a nonce is refused', async () => {
    const account = newAccount()
    const { message, nonce } = await buildMessage(server.url, account)
    const stripped = message.replace(`Nonce: ${nonce}\n`, '')
    expect(stripped).not.toContain(nonce)
    await expectRejected(
      await verify(server.url, stripped, await account.signMessage({ message: stripped })),
      'no nonce',
    )
  })

  test('a signed message edited afterwards is refused', async () => {
    const account = newAccount()
    const { message } = await buildMessage(server.url, account)
    const signature = await account.signMessage({ message })
    const edited = message.replace(/^URI: (.*)$/m, 'URI: $1elsewhere')
    expect(edited).not.toBe(message)
    await expectRejected(await verify(server.url, edited, signature), 'edited message')
  })

  test('every rejection carries the same message, whatever the reason', () => {
    expect(rejections.length).toBeGreaterThanOrEqual(14)
    const messages = new Set(rejections.map((r) => r.message))
    expect([...messages]).toHaveLength(1)
    expect([...messages][0]!.length).toBeGreaterThan(0)
  })

  test('a body that is not a message and a signature is bad input, not a 500', async () => {
    const response = await fetch(`${server.url}/api/auth/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 42 }),
    })
    expect(response.status).toBe(422)
    expect(((await response.json()) as ErrorBody).error.code).toBe('INVALID_INPUT')
  })
})

describe('Bearer tokens on HTTP', () => {
  test('a missing, malformed or garbage Authorization header is a 401 with the contract body', async () => {
    await expectUnauthorized(await fetch(`${server.url}/api/me`))
    for (const authorization of [
      '',
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwYXNz',
      'Token abc',
      'Bearer a b',
      'Bearer garbage',
      'Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA',
      `Bearer ${'x'.repeat(5000)}`,
    ]) {
      await expectUnauthorized(await fetch(`${server.url}/api/me`, { headers: { authorization } }))
    }
    await expectUnauthorized(await fetch(`${server.url}/api/auth/refresh`, { method: 'POST' }))
    await expectUnauthorized(await fetch(`${server.url}/api/auth/logout`, { method: 'POST' }))
  })

  test('a token signed with another secret, unsigned (alg none), for no session, or expired is a 401', async () => {
    const session = await signIn(server.url)
    const [, payloadPart] = session.token.split('.')
    const claims = JSON.parse(Buffer.from(payloadPart!, 'base64url').toString()) as {
      sub: string
      sid: string
      addr: string
      exp: number
    }
    const now = Math.floor(Date.now() / 1000)
    const forge = (payload: Record<string, unknown>, secret: string) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer('herald')
        .setSubject(claims.sub)
        .setIssuedAt()
        .setExpirationTime(now + 600)
        .sign(new TextEncoder().encode(secret))

    // Control: the same claims with the right secret are accepted, so each refusal below is for its reason.
    expect((await me(await forge({ sid: claims.sid, addr: claims.addr }, TEST_SECRET))).status).toBe(200)

    const otherSecret = await forge(
      { sid: claims.sid, addr: claims.addr },
      'another-secret-another-secret-0123456',
    )
    await expectUnauthorized(await me(otherSecret))

    const unsigned = new UnsecuredJWT({ sid: claims.sid, addr: claims.addr })
      .setIssuer('herald')
      .setSubject(claims.sub)
      .setIssuedAt()
      .setExpirationTime(now + 600)
      .encode()
    await expectUnauthorized(await me(unsigned))

    // A valid token with its signature part swapped for another's.
    const other = await signIn(server.url)
    const [h, p] = session.token.split('.')
    await expectUnauthorized(await me(`${h}.${p}.${other.token.split('.')[2]}`))

    const noSession = await forge(
      { sid: '00000000-0000-4000-8000-000000000000', addr: claims.addr },
      TEST_SECRET,
    )
    await expectUnauthorized(await me(noSession))

    const otherUsersSession = await forge(
      {
        sid: JSON.parse(Buffer.from(other.token.split('.')[1]!, 'base64url').toString()).sid,
        addr: claims.addr,
      },
      TEST_SECRET,
    )
    await expectUnauthorized(await me(otherUsersSession))

    const expired = await new SignJWT({ sid: claims.sid, addr: claims.addr })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('herald')
      .setSubject(claims.sub)
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(new TextEncoder().encode(TEST_SECRET))
    await expectUnauthorized(await me(expired))

    // None of this touched the real session.
    expect((await me(session.token)).status).toBe(200)
  })
})

describe('refresh and logout', () => {
  test('refresh returns a new working token for the same session; logout ends both', async () => {
    const account = newAccount()
    const session = await signIn(server.url, account)
    const response = await post('/api/auth/refresh', session.token)
    expect(response.status).toBe(200)
    const refreshed = (await response.json()) as SessionBody
    expect(refreshed.user).toEqual(session.user)
    expect(Date.parse(refreshed.expiresAt)).toBeGreaterThanOrEqual(Date.parse(session.expiresAt))
    expect(await (await me(refreshed.token)).json()).toEqual(session.user)
    const sid = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid
    expect(sid(refreshed.token)).toBe(sid(session.token))

    // Logging out with the refreshed token revokes the session, so the original token dies with it.
    expect((await post('/api/auth/logout', refreshed.token)).status).toBe(204)
    await expectUnauthorized(await me(refreshed.token))
    await expectUnauthorized(await me(session.token))
    await expectUnauthorized(await post('/api/auth/refresh', session.token))
    await expectUnauthorized(await post('/api/auth/refresh', refreshed.token))
    await expectUnauthorized(await post('/api/auth/logout', session.token))
  })

  test('logout closes every socket of the session with 4001 and leaves other sessions open', async () => {
    const account = newAccount()
    const session = await signIn(server.url, account)
    const otherSession = await signIn(server.url, account)
    expect(otherSession.user.id).toBe(session.user.id)
    const first = await connectAuthenticated(server.wsUrl, session.token)
    const second = await connectAuthenticated(server.wsUrl, session.token)
    const survivor = await connectAuthenticated(server.wsUrl, otherSession.token)

    const response = await post('/api/auth/logout', session.token)
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    expect((await first.closed).code).toBe(4001)
    expect((await second.closed).code).toBe(4001)

    // The other session's socket still works: it answers a ping after the revocation went out.
    survivor.send({ type: 'ping' })
    await survivor.next('pong')
    expect(isOpen(survivor)).toBe(true)
    expect((await me(otherSession.token)).status).toBe(200)

    await expectUnauthorized(await me(session.token))
    const late = connectSocket(server.wsUrl)
    await late.next('connected')
    late.send({ type: 'auth', token: session.token })
    const error = await late.next<{ type: 'error'; code: string }>('error')
    expect(error.code).toBe('UNAUTHORIZED')
    expect((await late.closed).code).toBe(4001)
    expect(await upgradeStatus(`${server.wsUrl}?token=${session.token}`)).toBe(401)
    survivor.close()
  })
})

describe('WebSocket authentication', () => {
  let session: Session
  beforeAll(async () => {
    session = await signIn(server.url)
  })

  test('auth answers authenticated with the user, address and token expiry', async () => {
    const socket = connectSocket(server.wsUrl)
    const connected = await socket.next<{ type: 'connected'; connectionId: string; timestamp: string }>(
      'connected',
    )
    expect(connected.connectionId.length).toBeGreaterThan(0)
    socket.send({ type: 'auth', token: session.token })
    const authenticated = await socket.next<Authenticated>('authenticated')
    expect(authenticated).toMatchObject({ userId: session.user.id, address: session.user.address })
    expect(Math.abs(Date.parse(authenticated.expiresAt) - Date.parse(session.expiresAt))).toBeLessThan(1000)
    socket.close()
  })

  test('?token= with a valid token authenticates without an auth message', async () => {
    const socket = connectSocket(`${server.wsUrl}?token=${encodeURIComponent(session.token)}`)
    await socket.opened
    const first = await socket.next()
    expect(first.type).toBe('connected')
    const second = await socket.next<{ type: string; userId: string; address: string }>()
    expect(second).toMatchObject({
      type: 'authenticated',
      userId: session.user.id,
      address: session.user.address,
    })
    // It is a fully authenticated connection: it gets the user's notifications.
    expect(
      (await server.publish({ userId: session.user.id, type: 't', title: 'Hi', message: 'there' })).status,
    ).toBe(201)
    await socket.next('notification')
    socket.close()
  })

  test('?token= with an invalid token refuses the upgrade with HTTP 401', async () => {
    expect(await upgradeStatus(`${server.wsUrl}?token=${encodeURIComponent(session.token)}`)).toBe(101)
    for (const token of ['garbage', '', `${session.token}x`]) {
      expect(await upgradeStatus(`${server.wsUrl}?token=${encodeURIComponent(token)}`)).toBe(401)
    }
    const socket = connectSocket(`${server.wsUrl}?token=garbage`)
    await expect(socket.opened).rejects.toThrow()
    const closed = await socket.closed
    expect(closed.code).not.toBe(1000)
    expect(socket.messages).toEqual([])
  })

  test('a bad token in auth answers UNAUTHORIZED and closes 4001', async () => {
    const socket = connectSocket(server.wsUrl)
    await socket.next('connected')
    socket.send({ type: 'auth', token: 'garbage' })
    expect((await socket.next<WsError>('error')).code).toBe('UNAUTHORIZED')
    expect((await socket.closed).code).toBe(4001)
  })

  test('auth again with a fresh token of the same user refreshes the connection', async () => {
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const fresh = await signIn(server.url, session.account)
    socket.send({ type: 'auth', token: fresh.token })
    const again = await socket.next<Authenticated>('authenticated')
    expect(again).toMatchObject({ userId: session.user.id, address: session.user.address })
    // Refreshed to the new session: logging out of the old one no longer closes it…
    const spare = await signIn(server.url, session.account)
    const oldSocket = await connectAuthenticated(server.wsUrl, spare.token)
    socket.send({ type: 'auth', token: fresh.token })
    await socket.next('authenticated')
    expect((await post('/api/auth/logout', spare.token)).status).toBe(204)
    expect((await oldSocket.closed).code).toBe(4001)
    socket.send({ type: 'ping' })
    await socket.next('pong')
    expect(isOpen(socket)).toBe(true)
    // …and logging out of the new one does.
    expect((await post('/api/auth/logout', fresh.token)).status).toBe(204)
    expect((await socket.closed).code).toBe(4001)
  })

  test("auth with another user's token on an authenticated socket answers UNAUTHORIZED and closes 4001", async () => {
    const mine = await signIn(server.url)
    const theirs = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, mine.token)
    socket.send({ type: 'auth', token: theirs.token })
    expect((await socket.next<WsError>('error')).code).toBe('UNAUTHORIZED')
    expect((await socket.closed).code).toBe(4001)
    expect(socket.messages.filter((m) => m.type === 'authenticated')).toHaveLength(1)
  })
})

describe('token expiry over WebSocket', () => {
  // Each sibling's clock moves only when the test moves it: the token ends, and its grace period runs out, at
  // the millisecond the test chooses, however slow the machine, and without waiting for either.
  test.concurrent('TOKEN_EXPIRED when the token ends, close 4001 after the grace period unless a fresh auth arrives', async () => {
    const clock = createManualClock()
    const short = await startSibling({ TOKEN_TTL_SECONDS: '1', TOKEN_EXPIRY_GRACE_SECONDS: '1' }, clock)
    try {
      const account = newAccount()
      const session = await signIn(short.url, account)
      // Whole seconds, like the JWT's exp, at least the TTL away: the advertised expiry is the real one.
      const tokenEnd = Date.parse(session.expiresAt)
      expect(tokenEnd % 1000).toBe(0)
      expect(tokenEnd - clock.now()).toBeGreaterThanOrEqual(1000)
      expect(tokenEnd - clock.now()).toBeLessThanOrEqual(2000)
      const lapsing = await connectAuthenticated(short.wsUrl, session.token)
      const renewing = await connectAuthenticated(short.wsUrl, session.token)

      // A millisecond before its end the token still holds; at its end both sockets are told.
      clock.advance(tokenEnd - 1 - clock.now())
      lapsing.send({ type: 'ping' })
      await lapsing.next('pong')
      expect(lapsing.messages.filter((m) => m.type === 'error')).toEqual([])
      clock.advance(1)
      const expired = await lapsing.next<WsError>('error', 3000)
      const expiredAt = clock.now()
      expect(expired.code).toBe('TOKEN_EXPIRED')
      expect(expiredAt).toBe(tokenEnd)
      expect((await renewing.next<WsError>('error', 3000)).code).toBe('TOKEN_EXPIRED')

      // Inside the grace period the renewing socket signs in again and sends the fresh token.
      clock.advance(100)
      const fresh = await signIn(short.url, account)
      renewing.send({ type: 'auth', token: fresh.token })
      await renewing.next('authenticated')

      // The lapsing socket is open until the grace period ends, and closed with 4001 when it does.
      clock.advance(expiredAt + 999 - clock.now())
      lapsing.send({ type: 'ping' })
      await lapsing.next('pong')
      expect(isOpen(lapsing)).toBe(true)
      clock.advance(1)
      const closed = await lapsing.closed
      expect(closed.code).toBe(4001)
      expect(clock.now() - expiredAt).toBe(1000)

      // Past the first grace period (and before the fresh token's own expiry and grace) it is still open.
      clock.advance(200)
      expect(clock.now()).toBeLessThan(Date.parse(fresh.expiresAt))
      expect(isOpen(renewing)).toBe(true)
      renewing.send({ type: 'ping' })
      await renewing.next('pong')
      renewing.close()
    } finally {
      await short.stop()
    }
  })

  test.concurrent('a token refreshed over HTTP just before it ends keeps the socket open', async () => {
    const clock = createManualClock()
    const short = await startSibling({ TOKEN_TTL_SECONDS: '2', TOKEN_EXPIRY_GRACE_SECONDS: '1' }, clock)
    try {
      const session = await signIn(short.url)
      const socket = await connectAuthenticated(short.wsUrl, session.token)
      clock.advance(Date.parse(session.expiresAt) - clock.now() - 700)
      const response = await post('/api/auth/refresh', session.token, short.url)
      expect(response.status).toBe(200)
      const refreshed = (await response.json()) as SessionBody
      socket.send({ type: 'auth', token: refreshed.token })
      await socket.next('authenticated')
      // Past the old token's end and its grace period: no TOKEN_EXPIRED, and the socket is open.
      clock.advance(Date.parse(session.expiresAt) - clock.now() + 1200)
      expect(clock.now()).toBeLessThan(Date.parse(refreshed.expiresAt))
      socket.send({ type: 'ping' })
      await socket.next('pong')
      expect(socket.messages.filter((m) => m.type === 'error')).toEqual([])
      expect(isOpen(socket)).toBe(true)
      // The refreshed token is still good over HTTP too.
      expect((await me(refreshed.token, short.url)).status).toBe(200)
      socket.close()
    } finally {
      await short.stop()
    }
  })
})
