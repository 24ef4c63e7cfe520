import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Socket } from 'node:net'
import { rawUpgradedSocket } from '../../../test/helpers/rawUpgrade'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { connectSocket } from '../../../test/helpers/wsClient'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ IDLE_TIMEOUT_SECONDS: '5' })
}, 30_000)
afterAll(async () => {
  await server?.stop()
}, 30_000)

/** A peer that upgrades and then never answers anything, like a laptop whose lid closed mid-connection. */
async function deadPeer(wsUrl: string): Promise<{ socket: Socket; closed: Promise<number> }> {
  const started = Date.now()
  const { socket } = await rawUpgradedSocket(wsUrl)
  const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now() - started)))
  // It reads what arrives (pings included) and never answers.
  socket.on('data', () => {})
  socket.resume()
  return { socket, closed }
}

test('heartbeats close a peer that stops answering, and keep a live one open', async () => {
  const live = connectSocket(server.wsUrl)
  await live.next('connected')
  const { closed } = await deadPeer(server.wsUrl)
  expect(server.herald.connectionCount).toBe(2)
  const after = await closed
  // Closed by the server once pings went unanswered for the idle timeout, well before the test's own limit.
  expect(after).toBeGreaterThanOrEqual(4000)
  expect(after).toBeLessThan(15_000)
  // The live client answered the same pings (its WebSocket does so by itself) and is still served.
  live.send({ type: 'ping' })
  expect(await live.next('pong')).toEqual({ type: 'pong' })
  expect(server.herald.connectionCount).toBe(1)
  live.close()
}, 30_000)
