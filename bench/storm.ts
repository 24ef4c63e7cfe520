// The restart storm (issue 14): N clients live on three channels each and their user's notifications, the
// server process is stopped (SIGTERM, or SIGKILL) and a new one started on the same port (and, for Herald,
// the same database), while a second instance keeps publishing before, during and after. Measured: the time
// until the last client is live again (re-authenticated, resumed, every channel subscribed), the curve of
// clients coming back, and whether every client got every message of its streams exactly once, in order.
// Herald runs its SDK (createHeraldClient); Socket.IO 4 runs socket.io-client with connection state recovery
// and the Redis Streams adapter. docs/benchmarks.md describes the phase.
import { randomBytes } from 'node:crypto'
import { type AddressInfo, createServer as createNetServer } from 'node:net'
import { join } from 'node:path'
import { createClient } from 'redis'
import { now, sleep } from './lib/clock'
import { Child } from './lib/control'
import { signPeerToken } from './lib/peerToken'
import { startCpuMeter } from './lib/proc'
import { percentile } from './lib/stats'
import { heraldPublisher, type StormPublisher, socketIoPublisher } from './lib/stormPublisher'
import type { StormResult } from './lib/stormResult'
import { type Delivery, mergeDeliveries } from './lib/stormStreams'
import type { BenchUser } from './lib/users'

export interface StormSettings {
  clients: number
  /** Load processes the clients are spread over (one Bun process is the bottleneck at 10,000 SDK clients). */
  processes: number
  servers: ('herald' | 'socketio')[]
  signals: ('SIGTERM' | 'SIGKILL')[]
  /** A publishing round every roundMs; rounds before the restart, and after the last client is back. */
  roundMs: number
  roundsBefore: number
  roundsAfter: number
  /** How long the server stays down between the old process's exit and the new one's start. */
  downMs: number
}

export const STORM_DEFAULTS: StormSettings = {
  clients: 10_000,
  processes: 2,
  servers: ['herald', 'socketio'],
  signals: ['SIGTERM'],
  roundMs: 500,
  roundsBefore: 4,
  roundsAfter: 4,
  downMs: 1_000,
}

const CONNECT_TIMEOUT_MS = 240_000
// Past Socket.IO's 2-minute recovery window, so the clients that come back once their sessions are gone count.
const BACK_TIMEOUT_MS = 180_000
const DRAIN_TIMEOUT_MS = 20_000
/** Buckets of the curve of clients back after the signal. */
const CURVE_BUCKET_MS = 500

export interface StormDeps {
  log(line: string): void
  /** Herald's environment for the bench (secrets, limits), with these variables added. */
  heraldEnv(extra: Record<string, string>): Record<string, string>
  createDatabase(): Promise<{ url: string; drop(): Promise<void> }>
  seedUsers(databaseUrl: string, n: number): Promise<BenchUser[]>
  writeUsers(name: string, users: BenchUser[]): string
  adminKey: string
  peerSecret: string
  work: string
}

async function buildSocketIoStorm(): Promise<string> {
  const outdir = join(import.meta.dir, '.build')
  const build = await Bun.build({
    entrypoints: [join(import.meta.dir, 'servers/socketioStorm.ts')],
    outdir,
    target: 'node',
    format: 'esm',
    packages: 'external',
  })
  if (!build.success) throw new AggregateError(build.logs, 'building the Socket.IO storm server failed')
  return join(outdir, 'socketioStorm.js')
}

interface Server {
  child: Child
  port: number
}

async function spawnServer(name: string, cmd: string[], env: Record<string, string>): Promise<Server> {
  const child = Child.spawn(name, cmd, env)
  const ready = await child.waitEvent('ready', 60_000)
  return { child, port: Number(ready.port) }
}

async function stopProcess(child: Child, signal: 'SIGTERM' | 'SIGKILL', timeoutMs: number): Promise<void> {
  child.signal(signal)
  const timer = setTimeout(() => child.kill(), timeoutMs)
  await child.exited
  clearTimeout(timer)
}

/** Requests every load process, and the sum or list of their answers. */
const all = <T>(loads: Child[], cmd: string, args: Record<string, unknown>, timeoutMs: number) =>
  Promise.all(loads.map((load) => load.request<T>(cmd, args, timeoutMs)))

export async function runStorm(deps: StormDeps, settings: StormSettings): Promise<StormResult[]> {
  const results: StormResult[] = []
  // A build that fails fails Socket.IO's storms (reported), not the run and the results before them.
  let buildError: unknown = null
  const socketIoScript = settings.servers.includes('socketio')
    ? await buildSocketIoStorm().catch((error: unknown) => {
        buildError = error
        return ''
      })
    : ''
  for (const server of settings.servers) {
    for (const signal of settings.signals) {
      const started = performance.now()
      const result = await stormCell(deps, settings, server, signal, socketIoScript)
      if (buildError && server === 'socketio') result.error = String(buildError)
      results.push(result)
      deps.log(
        `bench: storm ${server} ${signal}: ${result.error ?? `${result.back}/${result.connected} back, last ${Math.round(result.lastBackMs)} ms after the signal, ${result.delivery.lost} lost, ${result.delivery.duplicated} duplicated, ${result.delivery.outOfOrder} out of order${result.recovered === undefined ? '' : `, ${result.recovered} recovered`}`} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
      )
    }
  }
  return results
}

async function stormCell(
  deps: StormDeps,
  settings: StormSettings,
  kind: 'herald' | 'socketio',
  signal: 'SIGTERM' | 'SIGKILL',
  socketIoScript: string,
): Promise<StormResult> {
  const n = settings.clients
  const result = { server: kind, signal, clients: n } as StormResult
  const children: Child[] = []
  const cleanups: (() => Promise<void>)[] = []
  try {
    // ── Servers, users, publisher ──
    let users: BenchUser[]
    let startMain: (port: number) => Promise<Server>
    let publisher: StormPublisher
    if (kind === 'herald') {
      const database = await deps.createDatabase()
      cleanups.push(() => database.drop())
      users = await deps.seedUsers(database.url, n)
      const usersFile = deps.writeUsers(`storm-${signal}`, users)
      // BUS=postgres: the publishing instance reaches the main one's connections, as in a deployment.
      const env = (port: number) => ({
        ...deps.heraldEnv({ DATABASE_URL: database.url, BUS: 'postgres', DATA_DIR: deps.work }),
        PORT: String(port),
        BENCH_USERS_FILE: usersFile,
      })
      startMain = (port) => spawnServer('herald', [process.execPath, 'bench/servers/herald.ts'], env(port))
      const second = await spawnServer('publisher', [process.execPath, 'bench/servers/herald.ts'], env(0))
      children.push(second.child)
      publisher = heraldPublisher(`http://127.0.0.1:${second.port}`, deps.adminKey, users)
      result.adapter = 'PostgreSQL (BUS=postgres)'
    } else {
      if (!socketIoScript) throw new Error('the Socket.IO storm server was not built')
      const redis = await startOwnRedis()
      cleanups.push(() => redis.stop())
      const redisUrl = redis.url
      await pingRedis(redisUrl)
      users = Array.from({ length: n }, (_, i) => ({
        userId: String(i + 1),
        token: signPeerToken(deps.peerSecret, String(i + 1)),
      }))
      const stream = `herald-bench-storm-${randomBytes(6).toString('hex')}`
      cleanups.push(() => dropRedisKeys(redisUrl, stream))
      const env = (port: number) => ({
        REDIS_URL: redisUrl,
        BENCH_PEER_SECRET: deps.peerSecret,
        STORM_STREAM: stream,
        PORT: String(port),
      })
      startMain = (port) => spawnServer('socketio', ['node', socketIoScript], env(port))
      const second = await spawnServer('publisher', ['node', socketIoScript], env(0))
      children.push(second.child)
      publisher = socketIoPublisher(second.child, users)
      result.adapter = '@socket.io/redis-streams-adapter (Redis)'
    }
    let main = await startMain(0)
    children.push(main.child)
    const url = `http://127.0.0.1:${main.port}`

    // ── Clients ──
    const loads: Child[] = []
    for (let p = 0; p < settings.processes; p++) {
      const load = Child.spawn(`storm-client-${p + 1}`, [process.execPath, 'bench/stormClient.ts'])
      children.push(load)
      loads.push(load)
      await load.waitEvent('ready')
    }
    const share = Math.ceil(n / loads.length)
    const connectStarted = now()
    const connected = await Promise.all(
      loads.map((load, p) =>
        load.request<{ clients: number; live: number }>(
          'start',
          {
            kind,
            url,
            users: users.slice(p * share, (p + 1) * share),
            firstIndex: p * share,
            timeoutMs: CONNECT_TIMEOUT_MS,
          },
          CONNECT_TIMEOUT_MS + 10_000,
        ),
      ),
    )
    result.connectMs = now() - connectStarted
    result.connected = connected.reduce((sum, c) => sum + c.live, 0)
    if (result.connected < n) throw new Error(`only ${result.connected} of ${n} clients connected`)
    deps.log(`bench: storm ${kind}: ${n} clients live in ${(result.connectMs / 1000).toFixed(1)} s`)

    // ── Publishing, restart ──
    const rounds = publisher.run(settings.roundMs)
    try {
      await sleep(settings.roundMs * settings.roundsBefore)
      await all(loads, 'mark', {}, 30_000)
      const cpu = startCpuMeter(Object.fromEntries(loads.map((load, p) => [`client${p + 1}`, load.pid])))
      const signalAt = now()
      await stopProcess(main.child, signal, 30_000)
      result.stopMs = now() - signalAt
      await sleep(settings.downMs)
      main = await startMain(main.port)
      children.push(main.child)
      result.downMs = now() - signalAt
      // The new process alone, from listening to the last client back: what taking them all back costs it.
      const serverCpu = startCpuMeter({ server: main.child.pid })
      // Every client back, or the timeout.
      const deadline = now() + BACK_TIMEOUT_MS
      let back = 0
      let lastLog = now()
      while (now() < deadline) {
        const statuses = await all<{ back: number; live: number }>(loads, 'status', {}, 30_000)
        back = statuses.reduce((sum, s) => sum + s.back, 0)
        if (back >= result.connected) break
        if (now() - lastLog > 5_000) {
          lastLog = now()
          const live = statuses.reduce((sum, s) => sum + s.live, 0)
          deps.log(
            `bench: storm ${kind}: ${back} back, ${live} connected, ${Math.round((now() - signalAt) / 1000)} s after the signal`,
          )
        }
        await sleep(200)
      }
      result.cpu = cpu.stop()
      result.serverCpu = serverCpu.stop().server ?? Number.NaN
      const statuses = await all<{
        back: number
        recovered: number
        backAt: number[]
        reasons: Record<string, number>
        steps: Record<string, number[]>
      }>(loads, 'status', { times: true }, 30_000)
      const times = statuses
        .flatMap((s) => s.backAt)
        .map((t) => t - signalAt)
        .sort((a, b) => a - b)
      result.back = times.length
      result.lastBackMs = times.at(-1) ?? Number.NaN
      result.lastBackAfterReadyMs = result.lastBackMs - result.downMs
      result.p50Ms = percentile(times, 50)
      result.p90Ms = percentile(times, 90)
      result.p99Ms = percentile(times, 99)
      result.curve = backCurve(times)
      result.steps = {}
      for (const step of Object.keys(statuses[0]?.steps ?? {})) {
        const sorted = statuses
          .flatMap((s) => s.steps[step] ?? [])
          .map((t) => t - signalAt)
          .sort((a, b) => a - b)
        result.steps[step] = {
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          max: sorted.at(-1) ?? Number.NaN,
        }
      }
      if (process.env.STORM_TRACE)
        deps.log(JSON.stringify(statuses.map((s) => (s as { traces?: unknown }).traces)))
      result.downReasons = {}
      for (const s of statuses)
        for (const [reason, count] of Object.entries(s.reasons))
          result.downReasons[reason] = (result.downReasons[reason] ?? 0) + count
      if (kind === 'socketio') result.recovered = statuses.reduce((sum, s) => sum + s.recovered, 0)
      await sleep(settings.roundMs * settings.roundsAfter)
    } finally {
      await rounds.stop()
    }
    result.published = publisher.published()

    // ── Check ──
    result.delivery = await drain(loads, publisher)
  } catch (error) {
    result.error = String(error)
    result.delivery ??= mergeDeliveries([])
  } finally {
    for (const child of children.reverse()) await child.stop(10_000).catch(() => {})
    for (const cleanup of cleanups) await cleanup().catch(() => {})
  }
  return result
}

/** Verifies until nothing more is missing (the last publications on their way), or the timeout. */
async function drain(loads: Child[], publisher: StormPublisher): Promise<Delivery> {
  const expected = publisher.expected()
  const deadline = now() + DRAIN_TIMEOUT_MS
  let delivery = mergeDeliveries(await all<Delivery>(loads, 'verify', { expected }, 60_000))
  let unchangedSince = now()
  while (delivery.lost > 0 && now() < deadline && now() - unchangedSince < 3_000) {
    await sleep(500)
    const next = mergeDeliveries(await all<Delivery>(loads, 'verify', { expected }, 60_000))
    if (next.lost !== delivery.lost) unchangedSince = now()
    delivery = next
  }
  return delivery
}

/** Clients back per CURVE_BUCKET_MS after the signal. */
function backCurve(sortedTimes: number[]): number[] {
  const last = sortedTimes.at(-1) ?? 0
  const curve = new Array<number>(Math.floor(last / CURVE_BUCKET_MS) + 1).fill(0)
  for (const t of sortedTimes) curve[Math.max(0, Math.floor(t / CURVE_BUCKET_MS))]!++
  return curve
}

/**
 * A Redis of the run's own, bounded in memory: every recovering Socket.IO handshake reads the stream from its
 * own offset to the end (XRANGE without COUNT), so 10,000 at once build replies of gigabytes on the server's
 * one connection. On the shared Redis that grew to 24 GB and the kernel killed it; here the replies of one
 * connection are capped (Redis closes it past 512 MB, which the adapter reports and the run counts as losses),
 * and the data set at 2 GB. With REDIS_URL set, that Redis is used as it is.
 */
async function startOwnRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} }
  const port = await freePort()
  const proc = Bun.spawn(
    [
      'redis-server',
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory',
      '2gb',
      '--maxmemory-policy',
      'noeviction',
      '--client-output-buffer-limit',
      'normal 512mb 256mb 10',
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  )
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await pingRedis(url)
      break
    } catch (error) {
      if (Date.now() > deadline || proc.exitCode !== null) {
        proc.kill('SIGKILL')
        throw new Error(`could not start redis-server for the Socket.IO storm (is it installed?): ${error}`)
      }
      await Bun.sleep(100)
    }
  }
  return {
    url,
    async stop() {
      proc.kill('SIGKILL')
      await proc.exited
    },
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Socket.IO's storm needs Redis (the adapter): say so plainly rather than through a server's crash. */
async function pingRedis(url: string): Promise<void> {
  const redis = createClient({ url, socket: { connectTimeout: 5_000, reconnectStrategy: false } })
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.ping()
  } catch (error) {
    throw new Error(`Redis at ${url} is not reachable (the Socket.IO storm needs it): ${error}`)
  } finally {
    if (redis.isOpen) await redis.close()
  }
}

/** The run's stream, pub/sub channel and sessions (a REDIS_URL given may be shared). */
async function dropRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = createClient({ url, socket: { reconnectStrategy: false } })
  redis.on('error', () => {})
  await redis.connect()
  try {
    const keys: string[] = []
    for await (const batch of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...batch)
    for (let i = 0; i < keys.length; i += 500) await redis.del(keys.slice(i, i + 500))
  } finally {
    await redis.close()
  }
}
