// The ceiling: bare Bun.serve with native topics and the least work that behaves like Herald's hub: an HMAC
// token in the first message, a topic per user and one for everyone, the same WebSocket options as Herald.
import { emit, serveCommands } from '../lib/childIo'
import { heapSnapshot } from '../lib/heap'
import { verifyPeerToken } from '../lib/peerToken'
import { sendLoops } from '../lib/sendLoops'
import { readUserIds } from '../lib/users'

const secret = process.env.BENCH_PEER_SECRET!
type Data = { userId: string | null }

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(request, server) {
    if (new URL(request.url).pathname === '/ws' && server.upgrade(request, { data: { userId: null } }))
      return undefined
    return new Response('not found', { status: 404 })
  },
  websocket: {
    data: {} as Data,
    idleTimeout: 60,
    maxPayloadLength: 65536,
    backpressureLimit: 2 * 1048576,
    closeOnBackpressureLimit: false,
    perMessageDeflate: false,
    sendPings: true,
    message(ws, raw) {
      if (ws.data.userId !== null) return
      let message: { type?: unknown; token?: unknown } | null = null
      try {
        message = JSON.parse(String(raw))
      } catch {}
      const userId = message?.type === 'auth' ? verifyPeerToken(secret, message.token) : null
      if (!userId) {
        ws.close(4001, 'unauthorized')
        return
      }
      ws.data.userId = userId
      ws.subscribe('all')
      ws.subscribe(`u:${userId}`)
      ws.send(JSON.stringify({ type: 'authenticated', userId }))
    },
  },
})

const loops = sendLoops(
  {
    broadcast: (message) => server.publish('all', JSON.stringify(message)),
    toUser: (userId, message) => server.publish(`u:${userId}`, JSON.stringify(message)),
  },
  readUserIds(),
)

serveCommands({
  gc: () => {
    Bun.gc(true)
  },
  heap: () => heapSnapshot(),
  info: () => ({ connections: server.pendingWebSockets }),
  broadcast: (args) => loops.broadcast(args),
  perUser: (args) => loops.perUser(args),
})
emit({ event: 'ready', port: server.port, pid: process.pid })
