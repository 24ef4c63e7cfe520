// Socket.IO 4 for the restart storm (bench/storm.ts), on Node after `bun build --target node`: connection
// state recovery on, and the official Redis Streams adapter, which Socket.IO's docs name for recovery across
// servers and restarts (the in-memory adapter forgets every session with the process). Two roles on one
// stream: `main` serves the clients and is restarted; `publisher` is a second server on the same stream that
// only emits, so packets keep flowing into the stream while `main` is down, as another instance would.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdapter } from '@socket.io/redis-streams-adapter'
import { createClient } from 'redis'
import { Server } from 'socket.io'
import { emit, serveCommands } from '../lib/childIo'
import { peerAuthMiddleware } from '../lib/peerToken'

const secret = process.env.BENCH_PEER_SECRET!
const prefix = process.env.STORM_STREAM!
const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' })
// Redis closes the connection when its unsent replies pass the run's limit (bench/storm.ts): the client
// reconnects by itself, and what the adapter missed meanwhile shows as losses, not as this server's crash.
let redisErrors = 0
redis.on('error', (error: Error) => {
  if (redisErrors++ === 0)
    console.error(`redis: ${error.message} (the client reconnects; later errors not shown)`)
})
await redis.connect()
const http = createServer()
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: true },
  adapter: createAdapter(redis, {
    streamName: prefix,
    channelPrefix: prefix,
    sessionKeyPrefix: `${prefix}:session:`,
    // Far more than one run publishes: recovery needs every packet since a client's offset.
    maxLen: 2_000_000,
  }),
})

io.use(peerAuthMiddleware(secret))
io.on('connection', (socket) => {
  // A restored session already has its rooms (and its missed packets are on their way).
  if (socket.recovered) return
  socket.join(`u:${socket.data.userId}`)
  const rooms = (socket.handshake.auth as { rooms?: unknown }).rooms
  if (Array.isArray(rooms)) for (const room of rooms) if (typeof room === 'string') socket.join(room)
})

let stopping = false
process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  // Closing disconnects every socket with "server shutting down", which stores its session in Redis;
  // closing the Redis client afterwards waits for those writes.
  io.close()
  const end = redis.close ? redis.close() : redis.quit()
  void Promise.resolve(end).finally(() => process.exit(0))
  setTimeout(() => process.exit(1), 10_000).unref()
})

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  serveCommands({
    info: () => ({ connections: io.engine.clientsCount }),
    /** One round: an event on each room and to each user, numbered by the orchestrator. */
    round: (args) => {
      for (const [room, n] of args.rooms as [string, number][]) io.to(room).emit('p', { room, n })
      for (const [userId, n] of args.users as [string, number][]) io.to(`u:${userId}`).emit('n', { n })
      return { emitted: (args.rooms as unknown[]).length + (args.users as unknown[]).length }
    },
  })
  emit({ event: 'ready', port: (http.address() as AddressInfo).port, pid: process.pid })
})
