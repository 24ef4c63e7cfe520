// The ceiling: bare Bun.serve with native topics and the least work that behaves like Herald's hub: an HMAC
// token in the first message, a topic per user and one for everyone, the same WebSocket options as Herald.
import { emit, serveCommands } from '../lib/childIo'
import { heapSnapshot } from '../lib/heap'
import { verifyPeerToken } from '../lib/peerToken'
import { BENCH_CHANNEL, sendLoops } from '../lib/sendLoops'
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
      let message: { type?: unknown; token?: unknown; channel?: unknown } | null = null
      try {
        message = JSON.parse(String(raw))
      } catch {}
      if (ws.data.userId !== null) {
        // The channel phases: a native topic per channel, answered like Herald's subscribe.
        if (message?.type === 'subscribe' && typeof message.channel === 'string') {
          ws.subscribe(message.channel)
          ws.send(JSON.stringify({ type: 'subscribed', channel: message.channel, seq: 0, replayed: 0 }))
          // The presence phase: a members channel's join, to every subscriber (the joiner too), with none of
          // presence's bookkeeping: the pure fan-out.
          if (message.channel.startsWith('private:')) announce('join', message.channel, ws.data.userId)
        } else if (message?.type === 'unsubscribe' && typeof message.channel === 'string') {
          ws.unsubscribe(message.channel)
          ws.send(JSON.stringify({ type: 'unsubscribed', channel: message.channel, reason: 'client' }))
          if (message.channel.startsWith('private:')) announce('leave', message.channel, ws.data.userId)
        }
        return
      }
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

/** A join or leave as Herald frames it, to the channel's subscribers. */
function announce(kind: 'join' | 'leave', channel: string, userId: string) {
  server.publish(channel, JSON.stringify({ type: kind, channel, member: { userId, address: '' } }))
}

const loops = sendLoops(
  {
    broadcast: (message) => server.publish('all', JSON.stringify(message)),
    toUser: (userId, message) => server.publish(`u:${userId}`, JSON.stringify(message)),
    // A frame of the same shape as Herald's publication (no storing, no seq of its own).
    channel: (message) =>
      server.publish(
        BENCH_CHANNEL,
        JSON.stringify({
          type: 'publication',
          channel: BENCH_CHANNEL,
          seq: Number(message.i) + 1,
          data: message,
          publishedAt: new Date().toISOString(),
        }),
      ),
  },
  readUserIds(),
)

serveCommands({
  gc: () => {
    Bun.gc(true)
  },
  heap: () => heapSnapshot(),
  cpu: () => process.cpuUsage(),
  info: () => ({ connections: server.pendingWebSockets }),
  broadcast: (args) => loops.broadcast(args),
  perUser: (args) => loops.perUser(args),
  channel: (args) => loops.channel(args),
})
emit({ event: 'ready', port: server.port, pid: process.pid })
