// A minimal `ws` server on Node: an HMAC token in the first message, a Set of sockets per user, broadcasts
// to every client. Run by Node after `bun build --target node` (see run.ts).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'
import { emit, serveCommands } from '../lib/childIo'
import { verifyPeerToken } from '../lib/peerToken'
import { sendLoops } from '../lib/sendLoops'
import { readUserIds } from '../lib/users'

const secret = process.env.BENCH_PEER_SECRET!
const rooms = new Map<string, Set<WebSocket>>()
const http = createServer((_request, response) => response.writeHead(404).end())
const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload: 65536, perMessageDeflate: false })

wss.on('connection', (ws) => {
  let userId: string | null = null
  ws.on('message', (raw) => {
    if (userId !== null) return
    let message: { type?: unknown; token?: unknown } | null = null
    try {
      message = JSON.parse(String(raw))
    } catch {}
    userId = message?.type === 'auth' ? verifyPeerToken(secret, message.token) : null
    if (!userId) {
      ws.close(4001, 'unauthorized')
      return
    }
    const room = rooms.get(userId)
    if (room) room.add(ws)
    else rooms.set(userId, new Set([ws]))
    ws.send(JSON.stringify({ type: 'authenticated', userId }))
  })
  ws.on('close', () => {
    if (userId === null) return
    const room = rooms.get(userId)
    room?.delete(ws)
    if (room?.size === 0) rooms.delete(userId)
  })
})

const loops = sendLoops(
  {
    broadcast: (message) => {
      const frame = JSON.stringify(message)
      for (const ws of wss.clients) ws.send(frame)
    },
    toUser: (userId, message) => {
      const room = rooms.get(userId)
      if (!room) return
      const frame = JSON.stringify(message)
      for (const ws of room) ws.send(frame)
    },
  },
  readUserIds(),
)

http.listen(0, '127.0.0.1', () => {
  serveCommands({
    gc: () => {
      ;(globalThis as { gc?: () => void }).gc?.()
    },
    info: () => ({ connections: wss.clients.size }),
    broadcast: (args) => loops.broadcast(args),
    perUser: (args) => loops.perUser(args),
  })
  emit({ event: 'ready', port: (http.address() as AddressInfo).port, pid: process.pid })
})
