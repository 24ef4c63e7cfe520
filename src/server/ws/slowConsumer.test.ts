import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Socket } from 'node:net'
import { rawUpgradedSocket } from '../../../test/helpers/rawUpgrade'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'

// Contract §2: "A client too slow to read (send buffer over its limit) is closed with 4009 rather than letting
// memory grow; it recovers with resume." A raw TCP client upgrades, authenticates, then stops reading while
// the server pushes to it; the test holds the server to the behaviour, not to how it notices.

const SEND_BUFFER_LIMIT_BYTES = 64 * 1024
/** Each broadcast is this large, so the kernel's socket buffers (megabytes on loopback) fill in a few dozen. */
const BROADCAST_BYTES = 200_000

let server: TestServer
let slow: Session
let other: Session

beforeAll(async () => {
  server = await startTestServer({
    SEND_BUFFER_LIMIT_BYTES: String(SEND_BUFFER_LIMIT_BYTES),
    // The rounds below publish faster than the default admin budget allows in a burst on a fast machine.
    ADMIN_RATE_PER_SECOND: '100000',
  })
  slow = await signIn(server.url)
  other = await signIn(server.url)
}, 60_000)
afterAll(async () => {
  await server?.stop()
}, 30_000)

interface RawFrame {
  opcode: number
  payload: Buffer
}

/** A WebSocket client on a bare TCP socket, so the test decides when (and whether) it reads. */
class RawClient {
  private buffered = Buffer.alloc(0)
  readonly frames: RawFrame[] = []
  readonly ended: Promise<void>
  private wake: (() => void) | null = null
  private constructor(readonly socket: Socket) {
    this.ended = new Promise((resolve) => {
      socket.on('close', () => {
        resolve()
        this.wake?.()
      })
    })
    socket.on('error', () => {})
  }

  static async open(wsUrl: string): Promise<RawClient> {
    const { socket, rest } = await rawUpgradedSocket(wsUrl)
    const client = new RawClient(socket)
    socket.on('data', (data: Buffer) => client.onData(data))
    if (rest.length > 0) client.onData(rest)
    socket.resume()
    return client
  }

  private onData(data: Buffer) {
    this.buffered = Buffer.concat([this.buffered, data])
    for (;;) {
      const frame = readFrame(this.buffered)
      if (!frame) break
      this.buffered = this.buffered.subarray(frame.size)
      this.frames.push({ opcode: frame.opcode, payload: frame.payload })
    }
    this.wake?.()
  }

  /** Sends one masked text frame, as a client must. */
  sendText(text: string) {
    const payload = Buffer.from(text)
    const mask = Buffer.from([1, 2, 3, 4])
    const header =
      payload.length < 126
        ? Buffer.from([0x81, 0x80 | payload.length])
        : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff])
    const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!))
    this.socket.write(Buffer.concat([header, mask, masked]))
  }

  messages(): { type: string; [key: string]: unknown }[] {
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString('utf8')))
  }

  closeFrame(): { code: number; reason: string } | null {
    const frame = this.frames.find((f) => f.opcode === 8)
    if (!frame) return null
    return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') }
  }

  /** Waits until the check holds, re-checking whenever data arrives or the socket ends. */
  async until<T>(check: () => T | null | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = check()
      if (value) return value
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await Promise.race([new Promise<void>((resolve) => (this.wake = resolve)), Bun.sleep(200)])
    }
  }
}

function readFrame(buffer: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (buffer.length < 2) return null
  const opcode = buffer[0]! & 0x0f
  let length = buffer[1]! & 0x7f
  let offset = 2
  if (length === 126) {
    if (buffer.length < 4) return null
    length = buffer.readUInt16BE(2)
    offset = 4
  } else if (length === 127) {
    if (buffer.length < 10) return null
    length = Number(buffer.readBigUInt64BE(2))
    offset = 10
  }
  if (buffer.length < offset + length) return null
  return { opcode, payload: buffer.subarray(offset, offset + length), size: offset + length }
}

test('a client that stops reading is closed with 4009; the others keep receiving; resume recovers all', async () => {
  // The slow client: authenticated as `slow`, then it stops reading.
  const raw = await RawClient.open(server.wsUrl)
  await raw.until(() => raw.messages().find((m) => m.type === 'connected'), 'connected')
  raw.sendText(JSON.stringify({ type: 'auth', token: slow.token }))
  await raw.until(() => raw.messages().find((m) => m.type === 'authenticated'), 'authenticated')
  raw.socket.pause()

  // Healthy clients: the same user's other tab, and another user.
  const slowTab: TestSocket = await connectAuthenticated(server.wsUrl, slow.token)
  const otherTab: TestSocket = await connectAuthenticated(server.wsUrl, other.token)
  expect(server.herald.getUserConnectionCount(slow.user.id)).toBe(2)

  const pad = 'x'.repeat(BROADCAST_BYTES)
  const message = 'm'.repeat(9000)
  let rounds = 0
  let slowPublished = 0
  let otherPublished = 0
  let broadcasts = 0
  // Push until the server lets go of the slow connection (bounded, so a server that never does fails clearly).
  while (server.herald.getUserConnectionCount(slow.user.id) === 2 && rounds < 150) {
    rounds++
    expect((await server.broadcast({ type: 'bulk', round: rounds, pad })).status).toBe(202)
    broadcasts++
    for (let i = 0; i < 2; i++) {
      const response = await server.publish({
        userId: slow.user.id,
        type: 'slow',
        title: `r${rounds}`,
        message,
      })
      expect(response.status).toBe(201)
      slowPublished++
    }
    expect(
      (await server.publish({ userId: other.user.id, type: 'o', title: `r${rounds}`, message: 'm' })).status,
    ).toBe(201)
    otherPublished++
    // Time for the server to notice, whatever its schedule (the contract's is every second).
    if (rounds % 10 === 0) await Bun.sleep(1100)
  }
  const forgotten = server.herald.getUserConnectionCount(slow.user.id) === 1
  if (!forgotten) {
    // Give a last sweep its chance before failing.
    await Bun.sleep(2500)
  }
  expect({
    rounds,
    bytesPushed: rounds * (BROADCAST_BYTES + 2 * 9000),
    slowConnectionsLeft: server.herald.getUserConnectionCount(slow.user.id),
  }).toMatchObject({ slowConnectionsLeft: 1 })

  // The slow client reads again: what was queued, then the close frame with 4009.
  raw.socket.resume()
  const close = await raw.until(() => raw.closeFrame(), 'the close frame', 60_000)
  expect(close.code).toBe(4009)
  await raw.ended

  // The healthy clients got everything meanwhile, in order.
  const slowTabNotes = await slowTab.collect<{ type: 'notification'; notification: Notification }>(
    'notification',
    slowPublished,
    60_000,
  )
  expect(slowTabNotes.map((m) => m.notification.seq)).toEqual(
    Array.from({ length: slowPublished }, (_, i) => i + 1),
  )
  expect(await slowTab.collect('bulk', broadcasts, 60_000)).toHaveLength(broadcasts)
  const otherNotes = await otherTab.collect<{ type: 'notification'; notification: Notification }>(
    'notification',
    otherPublished,
    60_000,
  )
  expect(otherNotes.map((m) => m.notification.seq)).toEqual(
    Array.from({ length: otherPublished }, (_, i) => i + 1),
  )
  expect(await otherTab.collect('bulk', broadcasts, 60_000)).toHaveLength(broadcasts)
  expect(slowTab.ws.readyState).toBe(WebSocket.OPEN)
  expect(otherTab.ws.readyState).toBe(WebSocket.OPEN)

  // Published after the close: missed for certain, whatever the queue still held when it was closed.
  for (let i = 0; i < 3; i++) {
    expect(
      (await server.publish({ userId: slow.user.id, type: 'slow', title: 'after', message: 'm' })).status,
    ).toBe(201)
    slowPublished++
  }

  // The slow client comes back and resumes from the last seq it read: everything after it, once, in order.
  const seen = raw
    .messages()
    .filter((m) => m.type === 'notification')
    .map((m) => (m as unknown as { notification: Notification }).notification.seq)
  expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1))
  const lastSeen = seen.at(-1) ?? 0
  const back = await connectAuthenticated(server.wsUrl, slow.token)
  back.send({ type: 'resume', since: lastSeen })
  const resumed = await back.next<{ type: 'resumed'; replayed: number; seq: number }>('resumed', 30_000)
  const replayed = back.messages
    .filter((m) => m.type === 'notification')
    .map((m) => (m as { notification: Notification }).notification.seq)
  expect(replayed).toEqual(Array.from({ length: slowPublished - lastSeen }, (_, i) => lastSeen + i + 1))
  expect(resumed.replayed).toBe(slowPublished - lastSeen)
  expect(resumed.seq).toBe(slowPublished)
  console.log(
    `slow consumer: closed after ${rounds} rounds (~${Math.round((rounds * (BROADCAST_BYTES + 18_000)) / 1024 / 1024)} MiB pushed); ` +
      `it had read ${lastSeen} of ${slowPublished} notifications before the close`,
  )
  for (const socket of [slowTab, otherTab, back]) socket.close()
}, 180_000)
