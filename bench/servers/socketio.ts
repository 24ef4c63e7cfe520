// A minimal Socket.IO 4 server on Node, WebSocket transport only: the token in the handshake's auth, checked
// by a middleware (HMAC), a room per user, io.emit for broadcasts. Run by Node after `bun build --target node`.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from 'socket.io'
import { emit, serveCommands } from '../lib/childIo'
import { peerAuthMiddleware } from '../lib/peerToken'
import { BENCH_CHANNEL, sendLoops } from '../lib/sendLoops'
import { readUserIds } from '../lib/users'

const secret = process.env.BENCH_PEER_SECRET!
const http = createServer()
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: 65536,
})

io.use(peerAuthMiddleware(secret))
io.on('connection', (socket) => {
  socket.join(`u:${socket.data.userId}`)
  // The channel phases: a room per channel, acknowledged like Herald's subscribe.
  socket.on('subscribe', (room: unknown, ack: unknown) => {
    if (typeof room === 'string') socket.join(room)
    if (typeof ack === 'function') ack()
    // The presence phase: a members channel's join, to the room (the joiner too), nothing kept.
    if (typeof room === 'string' && room.startsWith('private:')) announce('join', room, socket.data.userId)
  })
  socket.on('unsubscribe', (room: unknown, ack: unknown) => {
    if (typeof room === 'string') socket.leave(room)
    if (typeof ack === 'function') ack()
    if (typeof room === 'string' && room.startsWith('private:')) announce('leave', room, socket.data.userId)
  })
})

/** A join or leave as Herald frames it, to the room. */
function announce(kind: 'join' | 'leave', channel: string, userId: string) {
  io.to(channel).emit('m', { type: kind, channel, member: { userId, address: '' } })
}

const loops = sendLoops(
  {
    broadcast: (message) => io.emit('m', message),
    toUser: (userId, message) => io.to(`u:${userId}`).emit('m', message),
    channel: (message) =>
      io.to(BENCH_CHANNEL).emit('m', {
        type: 'publication',
        channel: BENCH_CHANNEL,
        seq: Number(message.i) + 1,
        data: message,
        publishedAt: new Date().toISOString(),
      }),
  },
  readUserIds(),
)

http.listen(0, '127.0.0.1', () => {
  serveCommands({
    gc: () => {
      ;(globalThis as { gc?: () => void }).gc?.()
    },
    info: () => ({ connections: io.engine.clientsCount }),
    cpu: () => process.cpuUsage(),
    broadcast: (args) => loops.broadcast(args),
    perUser: (args) => loops.perUser(args),
    channel: (args) => loops.channel(args),
  })
  emit({ event: 'ready', port: (http.address() as AddressInfo).port, pid: process.pid })
})
