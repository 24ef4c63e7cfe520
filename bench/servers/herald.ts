// Herald as it runs in production (startHerald with the configuration from the environment), driven by the
// bench: broadcasts and per-user pushes go through the hub's public surface (sendToAll, sendToUser), the
// calls the admin broadcast route and the job workers make. Users, sessions and tokens were created by the
// orchestrator in the same database with the same JWT secret (bench/lib/seedHerald.ts).
import { startHerald } from '../../src/server/app'
import { loadConfig } from '../../src/server/config/loadConfig'
import type { ServerMessage } from '../../src/shared/protocol'
import { emit, serveCommands } from '../lib/childIo'
import { heapSnapshot } from '../lib/heap'
import { BENCH_CHANNEL, sendLoops } from '../lib/sendLoops'
import { readUserIds } from '../lib/users'

const config = loadConfig(process.env)
const herald = await startHerald(config)
const userIds = readUserIds()
const loops = sendLoops(
  {
    broadcast: (message) => herald.sendToAll(message),
    toUser: (userId, message) => herald.sendToUser(userId, message as ServerMessage),
    // Stored with the channel's next seq, then pushed after the commit, as the admin route does.
    channel: (message) => herald.publish(BENCH_CHANNEL, message).catch(() => {}),
  },
  userIds,
)

serveCommands({
  gc: () => {
    Bun.gc(true)
  },
  heap: () => heapSnapshot(),
  cpu: () => process.cpuUsage(),
  info: () => ({ connections: herald.connectionCount, users: herald.authenticatedUserCount }),
  broadcast: (args) => loops.broadcast(args),
  perUser: (args) => loops.perUser(args),
  channel: (args) => loops.channel(args),
  /** `count` publications on `channel`, stored before the answer (the re-subscribe phase replays them). */
  async seedChannel(args) {
    const count = Number(args.count)
    for (let i = 0; i < count; i += 100)
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, k) =>
          herald.publish(String(args.channel), { type: 'replay', i: i + k }),
        ),
      )
    return { seeded: count }
  },
})
// SIGTERM stops as `npm start` does (connections closed, then the process ends): the restart storm's graceful
// variant. Closing stdin still ends the process at once.
process.on('SIGTERM', () => {
  setTimeout(() => process.exit(1), 30_000).unref()
  void herald.stop().finally(() => process.exit(0))
})
emit({ event: 'ready', port: herald.port, pid: process.pid })
