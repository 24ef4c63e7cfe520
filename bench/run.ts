// `npm run bench`: Herald against Socket.IO, ws and bare Bun in one run, under the same load from the same
// client process, then Herald's stored path on PGlite and PostgreSQL. docs/benchmarks.md describes the phases
// and the options (--sizes, --reps, --max, --servers, --skip-hub, --skip-stored, --skip-churn, --stored-dbs,
// --skip-channels, --stored-saturation, --churn-seconds, --churn-connections, --skip-presence, --presence-members,
// --presence-reps, --skip-storm, --storm-clients, --storm-servers, --storm-signals, --storm-processes, --profile,
// --pin, --database-url).
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { openDatabase } from '../src/server/db/openDatabase'
import { CHURN_DEFAULTS, type ChurnSettings, runChurn } from './lib/churn'
import { sleep } from './lib/clock'
import { Child, killAllChildren } from './lib/control'
import { type HeapSnapshot, heapPerConnection } from './lib/heap'
import { signPeerToken } from './lib/peerToken'
import { presenceEdges, runPresence } from './lib/presencePhase'
import { readRssKiB, startCpuMeter } from './lib/proc'
import { renderReport } from './lib/report'
import type { BenchResults, Cpu, DeliveryResult, HubCell, Kind, StoredCell } from './lib/results'
import { seedHeraldUsers, seedMissedNotifications } from './lib/seedHerald'
import { BENCH_CHANNEL } from './lib/sendLoops'
import { spread } from './lib/stats'
import type { BenchUser } from './lib/users'
import { runStorm, STORM_DEFAULTS } from './storm'

const { values: options } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000' },
    reps: { type: 'string', default: '3' },
    max: { type: 'string' },
    'skip-hub': { type: 'boolean', default: false },
    'skip-stored': { type: 'boolean', default: false },
    'skip-churn': { type: 'boolean', default: false },
    'skip-channels': { type: 'boolean', default: false },
    'skip-presence': { type: 'boolean', default: false },
    'presence-members': { type: 'string', default: '1000' },
    // Once by default: with three servers it takes 2–3 minutes, and the whole run has 14.
    'presence-reps': { type: 'string', default: '1' },
    'stored-dbs': { type: 'string', default: 'pglite,postgres' },
    'stored-saturation': { type: 'string', default: '64' },
    'churn-seconds': { type: 'string', default: String(CHURN_DEFAULTS.durationMs / 1000) },
    'churn-connections': { type: 'string', default: String(CHURN_DEFAULTS.connections) },
    servers: { type: 'string', default: 'herald,socketio,ws,bun' },
    'skip-storm': { type: 'boolean', default: false },
    'storm-clients': { type: 'string', default: String(STORM_DEFAULTS.clients) },
    'storm-servers': { type: 'string', default: STORM_DEFAULTS.servers.join(',') },
    'storm-signals': { type: 'string', default: STORM_DEFAULTS.signals.join(',') },
    'storm-processes': { type: 'string', default: String(STORM_DEFAULTS.processes) },
    profile: { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
    'database-url': {
      type: 'string',
      default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
  },
})

const ROOT = join(import.meta.dir, '..')
const KINDS = options.servers!.split(',') as Kind[]
const JWT_SECRET = `bench-${randomBytes(24).toString('hex')}`
const PEER_SECRET = `peer-${randomBytes(24).toString('hex')}`
const ADMIN_KEY = `admin-${randomBytes(16).toString('hex')}`
const adminUrl = options['database-url']!
const reps = Number(options.reps)
const sizes = options.sizes!.split(',').map(Number)
const maxSize = options.max ? Number(options.max) : null
/**
 * Messages per delivery phase: enough to measure, few enough to stay inside the time budget. The paced
 * (latency) phases leave the server time to drain between sends: one fan-out of N messages every
 * max(50 ms, N × 30 µs), well below the throughput the floods find, so their latency is the time one
 * fan-out takes, not a queue.
 */
const PACED_SENDS = 10
const pacedIntervalMs = (n: number) => Math.max(50, Math.round(n * 0.03))
/** Deliveries per flood (throughput) phase: N × floodCount. */
const FLOOD_DELIVERIES = 300_000
/** Between two cells: the kernel finishes tearing down the last cell's sockets. */
const settleMs = (n: number) => (n >= 5_000 ? 2_000 : 500)
/**
 * Stored path: 100 connected users; closed loop with 16 requests in flight for 4 s (throughput at the same
 * load as the bare insert's row), the same with 64 in flight (saturation: where the bare insert reaches its
 * ceiling on this machine and Herald its own most), then open loop at 100 requests/s (latency at a moderate
 * rate).
 */
const STORED = {
  users: 100,
  concurrency: 16,
  /** --stored-saturation; 0 leaves the saturation loads out. */
  saturation: Number(options['stored-saturation']),
  // Far above what 4 s reach (about 14,000/s at saturation on the machine of docs/benchmarks.md), so time
  // ends the phase.
  maxCount: 100_000,
  durationMs: 4_000,
  pacedRatePerSec: 100,
  pacedCount: 200,
  /** The batch route: this many recipients per request, this many requests in flight. */
  batchSize: 100,
  batchConcurrency: 4,
}
/** Churn: connections cycling (connect, authenticate, receive, disconnect) for a bounded time; see lib/churn.ts. */
const CHURN: ChurnSettings = {
  ...CHURN_DEFAULTS,
  connections: Number(options['churn-connections']),
  users: 2 * Number(options['churn-connections']),
  durationMs: Number(options['churn-seconds']) * 1000,
}
/** The storm adds a few minutes per server and signal at 10,000 clients. */
const HARD_LIMIT_MS = (options['skip-storm'] ? 14 : 30) * 60_000
const PROFILE_DIR = join(import.meta.dir, 'results/profiles')
/** With --profile, Bun servers also report their heap by object type before and after connecting. */
const profiling = (kind: Kind) => options.profile && (kind === 'herald' || kind === 'bun')

const work = mkdtempSync(join(tmpdir(), 'herald-bench-'))
const startedAt = new Date()
const hardStop = setTimeout(() => {
  console.error(
    `bench: over the ${HARD_LIMIT_MS / 60_000}-minute hard limit; stopping every process it started`,
  )
  shutdown(2)
}, HARD_LIMIT_MS)
process.on('SIGINT', () => shutdown(130))
process.on('SIGTERM', () => shutdown(143))

function shutdown(code: number): never {
  killAllChildren()
  rmSync(work, { recursive: true, force: true })
  process.exit(code)
}

const log = (line: string) => process.stderr.write(`${line}\n`)

// ── Set-up ──────────────────────────────────────────────────────────────────────────────────────────────

function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))
  return Number(line?.trim().split(/\s+/)[3] ?? 1024)
}

async function buildNodeServers(): Promise<void> {
  const build = await Bun.build({
    entrypoints: [join(import.meta.dir, 'servers/ws.ts'), join(import.meta.dir, 'servers/socketio.ts')],
    outdir: join(import.meta.dir, '.build'),
    target: 'node',
    format: 'esm',
    packages: 'external',
  })
  if (!build.success) throw new AggregateError(build.logs, 'building the Node servers failed')
}

async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  const name = `herald_bench_${randomBytes(6).toString('hex')}`
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end({ timeout: 5 })
    },
  }
}

function writeUsers(name: string, users: BenchUser[]): string {
  const file = join(work, `${name}.json`)
  writeFileSync(file, JSON.stringify(users))
  return file
}

async function machine() {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} })
  const [row] = await sql<{ version: string }[]>`select version()`
  await sql.end()
  const node = Bun.spawnSync(['node', '--version']).stdout.toString().trim()
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    bun: Bun.version,
    node,
    postgres: row?.version.split(' on ')[0] ?? 'unknown',
    socketIo: packageVersion('socket.io'),
    ws: packageVersion('ws'),
    elysia: packageVersion('elysia'),
    openFilesLimit: openFilesLimit(),
    herald: heraldSource(),
  }
}

/** Which Herald was measured: the commit, and whether src/ had uncommitted changes. */
function heraldSource(): string {
  const git = (...args: string[]) =>
    Bun.spawnSync(['git', ...args], { cwd: ROOT })
      .stdout.toString()
      .trim()
  const commit = git('rev-parse', '--short', 'HEAD')
  if (!commit) return process.env.BENCH_HERALD_SOURCE ?? 'unknown (not a git checkout)'
  return git('status', '--porcelain', 'src') ? `${commit} with uncommitted changes in src/` : commit
}

function packageVersion(name: string): string {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version
}

/** With --pin: the server runs on core 0 and the load client on core 1 (taskset keeps the pid). */
const pinTo = (core: number) => (options.pin ? ['taskset', '-c', String(core)] : [])

// ── Servers ─────────────────────────────────────────────────────────────────────────────────────────────

async function startServer(kind: Kind, usersFile: string, env: Record<string, string> = {}) {
  const common = { BENCH_USERS_FILE: usersFile, BENCH_PEER_SECRET: PEER_SECRET }
  const cmd =
    kind === 'herald'
      ? [
          process.execPath,
          ...(options.profile ? ['--cpu-prof-md', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
          'bench/servers/herald.ts',
        ]
      : kind === 'bun'
        ? [process.execPath, 'bench/servers/bun.ts']
        : ['node', '--expose-gc', `bench/.build/${kind}.js`]
  const server = Child.spawn(kind, [...pinTo(0), ...cmd], { ...common, ...env })
  const ready = await server.waitEvent('ready', 60_000)
  const port = Number(ready.port)
  const url = kind === 'socketio' ? `http://127.0.0.1:${port}` : `ws://127.0.0.1:${port}/ws`
  return { server, port, url, httpUrl: `http://127.0.0.1:${port}` }
}

function heraldEnv(extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_SECRET,
    HERALD_ADMIN_KEY: ADMIN_KEY,
    LOCAL_CHAIN: 'false',
    LOG_LEVEL: 'warn',
    MAX_CONNECTIONS: '1000000',
    // All the load comes from one address (127.0.0.1): per-IP limits would throttle the load client itself.
    WS_CONNECTIONS_PER_SECOND_PER_IP: '100000',
    MAX_ANONYMOUS_CONNECTIONS_PER_IP: '1000000',
    ADMIN_RATE_PER_SECOND: '1000000',
    ...extra,
  }
}

// ── Hub cells ───────────────────────────────────────────────────────────────────────────────────────────

async function deliveryPhase(
  client: Child,
  server: Child,
  command: 'broadcast' | 'perUser' | 'channel',
  args: Record<string, number>,
  expected: number,
): Promise<DeliveryResult> {
  const timeoutMs = 60_000
  await client.request('expect', { total: expected, timeoutMs })
  const done = client.waitEvent('phase', timeoutMs + 10_000)
  const cpu = startCpuMeter({ server: server.pid, client: client.pid })
  const sent = await server.request<{ start: number; end: number; sent: number }>(command, args, timeoutMs)
  const phase = (await done) as unknown as {
    received: number
    last: number
    p50: number
    p99: number
    max: number
  }
  const usage = cpu.stop()
  return {
    sent: sent.sent,
    expected,
    received: phase.received,
    ratePerSec: phase.received / ((phase.last - sent.start) / 1000),
    sendMs: sent.end - sent.start,
    p50: phase.p50,
    p99: phase.p99,
    max: phase.max,
    cpu: usage as unknown as Cpu,
  }
}

/** Publications the re-subscribe phase replays (Herald's REPLAY_CAP: the most one subscribe replays). */
const RESUBSCRIBE_REPLAY = 1000
const REPLAY_CHANNEL = 'public:replay'

/**
 * The channel phases of a cell (ws has no rooms): every connection subscribes to one channel, then paced and
 * flooded publications fan out to all of them; on Herald, a connection subscribes again with `since`, 1,000
 * stored publications back, five times.
 */
async function channelPhases(client: Child, server: Child, cell: HubCell, floodCount: number) {
  const subscribed = await client.request<NonNullable<HubCell['subscribe']>>(
    'subscribe',
    { channel: BENCH_CHANNEL },
    180_000,
  )
  cell.subscribe = {
    ok: subscribed.ok,
    failed: subscribed.failed,
    firstError: subscribed.firstError,
    perSec: subscribed.perSec,
  }
  const subscribers = subscribed.ok
  cell.channelPaced = await deliveryPhase(
    client,
    server,
    'channel',
    { count: PACED_SENDS, intervalMs: pacedIntervalMs(cell.n) },
    subscribers * PACED_SENDS,
  )
  cell.channelFlood = await deliveryPhase(
    client,
    server,
    'channel',
    { count: floodCount, intervalMs: 0 },
    subscribers * floodCount,
  )
  if (cell.server !== 'herald') return
  await server.request('seedChannel', { channel: REPLAY_CHANNEL, count: RESUBSCRIBE_REPLAY }, 120_000)
  const again = await client.request<{ p50: number; max: number; runs: { replayed: number }[] }>(
    'resubscribe',
    { channel: REPLAY_CHANNEL, since: 0, reps: 5 },
    120_000,
  )
  cell.resubscribe = {
    p50: again.p50,
    max: again.max,
    replayed: again.runs[0]?.replayed ?? 0,
    runs: again.runs.length,
  }
}

async function hubCell(client: Child, kind: Kind, n: number, rep: number, files: Record<string, string>) {
  const cell: HubCell = { server: kind, n, rep } as HubCell
  const env =
    kind === 'herald' ? heraldEnv({ DATABASE_URL: files.heraldDb!, BUS: 'memory', DATA_DIR: work }) : {}
  const { server, url } = await startServer(kind, kind === 'herald' ? files.herald! : files.peers!, env)
  const usersFile = kind === 'herald' ? files.herald : files.peers
  try {
    // Warm-up: a few connections open, authenticate and close, so first-use costs (route compilation, lazy
    // modules, JIT) are not counted as the cost of connections.
    await client.request('connect', { kind, url, n: Math.min(50, n), usersFile }, 60_000)
    await client.request('close', {}, 30_000)
    await sleep(200)
    const heapBefore = profiling(kind) ? await server.request<HeapSnapshot>('heap') : null
    await server.request('gc')
    await sleep(300)
    cell.rssBaselineKiB = readRssKiB(server.pid)
    const cpu = startCpuMeter({ server: server.pid, client: client.pid })
    const connected = await client.request<{
      ok: number
      failed: number
      firstError: string | null
      start: number
      end: number
    }>('connect', { kind, url, n, usersFile }, 180_000)
    cell.connectCpu = cpu.stop() as unknown as Cpu
    cell.connected = connected.ok
    cell.failed = connected.failed
    cell.firstError = connected.firstError
    cell.connectsPerSec = connected.ok / ((connected.end - connected.start) / 1000)
    // Idle: let the last handshakes settle, collect garbage in the server, then read its RSS.
    await sleep(1000)
    await server.request('gc')
    await sleep(500)
    cell.rssConnectedKiB = readRssKiB(server.pid)
    cell.bytesPerConnection =
      ((cell.rssConnectedKiB - cell.rssBaselineKiB) * 1024) / Math.max(1, connected.ok)
    if (heapBefore) {
      const heap = heapPerConnection(heapBefore, await server.request<HeapSnapshot>('heap'), connected.ok)
      mkdirSync(PROFILE_DIR, { recursive: true })
      writeFileSync(join(PROFILE_DIR, `heap-${kind}-${n}-${rep}.json`), `${JSON.stringify(heap, null, 2)}\n`)
      log(
        `bench: ${kind} heap per connection: ${Math.round(heap.heapBytesPerConnection)} B, ${heap.cellsPerConnection.toFixed(1)} cells: ${heap.cells
          .slice(0, 14)
          .map((c) => `${c.type} ${c.perConnection.toFixed(1)}`)
          .join(', ')}`,
      )
    }
    const ok = connected.ok
    const floodCount = Math.max(10, Math.round(FLOOD_DELIVERIES / n))
    cell.broadcastPaced = await deliveryPhase(
      client,
      server,
      'broadcast',
      { count: PACED_SENDS, intervalMs: pacedIntervalMs(n) },
      ok * PACED_SENDS,
    )
    cell.broadcastFlood = await deliveryPhase(
      client,
      server,
      'broadcast',
      { count: floodCount, intervalMs: 0 },
      ok * floodCount,
    )
    cell.perUserPaced = await deliveryPhase(
      client,
      server,
      'perUser',
      { rounds: PACED_SENDS, intervalMs: pacedIntervalMs(n) },
      ok * PACED_SENDS,
    )
    cell.perUserFlood = await deliveryPhase(
      client,
      server,
      'perUser',
      { rounds: floodCount, intervalMs: 0 },
      ok * floodCount,
    )
    if (kind !== 'ws' && !options['skip-channels'])
      // A channel phase that fails (a peer too slow for its timeout) keeps the cell's other results.
      await channelPhases(client, server, cell, floodCount).catch((error) => {
        cell.channelError = String(error)
      })
  } catch (error) {
    cell.error = String(error)
  } finally {
    await client.request('close', {}, 30_000).catch(() => {})
    await server.stop()
    await sleep(settleMs(n))
  }
  return cell
}

// ── Stored path ─────────────────────────────────────────────────────────────────────────────────────────

async function storedCell(client: Child, db: 'pglite' | 'postgres', rep: number): Promise<StoredCell> {
  const cell = { db, rep, concurrency: STORED.concurrency } as StoredCell
  const database = db === 'postgres' ? await createDatabase() : null
  const dataDir = mkdtempSync(join(work, 'pglite-'))
  try {
    const handle = await openDatabase(database ? { databaseUrl: database.url } : { dataDir })
    const users = await seedHeraldUsers(handle.db, JWT_SECRET, STORED.users + 1)
    const away = users.pop()!
    await seedMissedNotifications(handle.db, away.userId, 1000)
    await handle.close()
    const usersFile = writeUsers(`stored-${db}-${rep}`, users)
    const env = heraldEnv(
      database ? { DATABASE_URL: database.url, DATA_DIR: dataDir } : { DATA_DIR: dataDir },
    )
    const { server, url, httpUrl } = await startServer('herald', usersFile, env)
    try {
      const connected = await client.request<{ ok: number }>(
        'connect',
        { kind: 'herald', url, n: users.length, usersFile },
        60_000,
      )
      cell.connected = connected.ok
      const cpu = startCpuMeter({ server: server.pid, client: client.pid })
      const stored = await client.request<Record<string, number>>(
        'stored',
        {
          url: httpUrl,
          adminKey: ADMIN_KEY,
          userIds: users.map((u) => u.userId),
          concurrency: STORED.concurrency,
          maxCount: STORED.maxCount,
          durationMs: STORED.durationMs,
        },
        60_000,
      )
      cell.cpu = cpu.stop() as unknown as Cpu
      Object.assign(cell, stored)
      if (STORED.saturation > 0) {
        const saturationCpu = startCpuMeter({ server: server.pid, client: client.pid })
        const saturated = await client.request<Record<string, number>>(
          'stored',
          {
            url: httpUrl,
            adminKey: ADMIN_KEY,
            userIds: users.map((u) => u.userId),
            concurrency: STORED.saturation,
            maxCount: STORED.maxCount,
            durationMs: STORED.durationMs,
          },
          60_000,
        )
        cell.saturation = {
          ...saturated,
          concurrency: STORED.saturation,
          cpu: saturationCpu.stop() as unknown as Cpu,
        } as NonNullable<StoredCell['saturation']>
      }
      // The same at a steady, moderate rate: latency without a queue in front of the database.
      cell.paced = await client.request<NonNullable<StoredCell['paced']>>(
        'stored',
        {
          url: httpUrl,
          adminKey: ADMIN_KEY,
          userIds: users.map((u) => u.userId),
          ratePerSec: STORED.pacedRatePerSec,
          maxCount: STORED.pacedCount,
        },
        60_000,
      )
      // The batch route: one request stores and pushes a notification for each of batchSize users.
      const batchCpu = startCpuMeter({ server: server.pid, client: client.pid })
      const batch = await client.request<Record<string, number>>(
        'stored',
        {
          url: httpUrl,
          adminKey: ADMIN_KEY,
          userIds: users.map((u) => u.userId),
          batchSize: STORED.batchSize,
          concurrency: STORED.batchConcurrency,
          maxCount: STORED.maxCount / 10,
          durationMs: STORED.durationMs,
        },
        60_000,
      )
      cell.batch = { ...batch, cpu: batchCpu.stop() as unknown as Cpu } as NonNullable<StoredCell['batch']>
      // Resume 1,000 missed notifications: the user was away while they were stored.
      const replays: number[] = []
      for (let i = 0; i < 3; i++) {
        const replay = await client.request<{ ms: number; replayed: number }>(
          'replay',
          { url, token: away.token, since: 0 },
          40_000,
        )
        if (replay.replayed !== 1000) throw new Error(`resume replayed ${replay.replayed}, not 1000`)
        replays.push(replay.ms)
      }
      cell.replayMs = spread(replays).median
      cell.replayAllMs = replays
    } finally {
      await client.request('close', {}, 30_000).catch(() => {})
      await server.stop()
    }
    if (database) {
      const loads = [
        ...(['insert', 'notify', 'transaction'] as const).map((mode) => ({
          mode,
          concurrency: STORED.concurrency,
        })),
        ...(STORED.saturation > 0 ? [{ mode: 'insert' as const, concurrency: STORED.saturation }] : []),
      ]
      for (const { mode, concurrency } of loads) {
        const cpu = startCpuMeter({ client: client.pid })
        const bare = await client.request<Omit<NonNullable<StoredCell['bare']>, 'cpu'>>(
          'bareInsert',
          {
            mode,
            databaseUrl: database.url,
            poolSize: 10,
            userIds: mode === 'transaction' ? users.map((u) => u.userId) : [away.userId],
            concurrency,
            seqBase: concurrency === STORED.concurrency ? 0 : 10_000_000_000,
            maxCount: STORED.maxCount * 5,
            durationMs: STORED.durationMs,
          },
          60_000,
        )
        const result = { ...bare, cpu: cpu.stop() as unknown as Omit<Cpu, 'server'> }
        if (concurrency !== STORED.concurrency) cell.bareSaturation = { ...result, concurrency }
        else if (mode === 'insert') cell.bare = result
        else if (mode === 'notify') cell.bareNotify = result
        else cell.bareTransaction = result
      }
    }
  } catch (error) {
    cell.error = String(error)
  } finally {
    await database?.drop().catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
  }
  return cell
}

// ── Churn ───────────────────────────────────────────────────────────────────────────────────────────────

async function churnPhase(client: Child) {
  const database = await createDatabase()
  try {
    const handle = await openDatabase({ databaseUrl: database.url })
    const users = await seedHeraldUsers(handle.db, JWT_SECRET, CHURN.users)
    await handle.close()
    const usersFile = writeUsers('churn', users)
    const env = heraldEnv({ DATABASE_URL: database.url, BUS: 'memory', DATA_DIR: work })
    return await runChurn(
      { client, usersFile, log, startHerald: () => startServer('herald', usersFile, env) },
      CHURN,
    )
  } finally {
    await database.drop()
  }
}

// ── Presence ────────────────────────────────────────────────────────────────────────────────────────────

/** Members joining and leaving one members channel, Herald against bare Bun topics and Socket.IO rooms. */
async function presencePhase(client: Child) {
  const members = Number(options['presence-members'])
  const channelTokenSecret = randomBytes(32).toString('hex')
  const database = await createDatabase()
  try {
    const handle = await openDatabase({ databaseUrl: database.url })
    const users = writeUsers('presence-herald', await seedHeraldUsers(handle.db, JWT_SECRET, members))
    await handle.close()
    const peers = writeUsers(
      'presence-peers',
      Array.from({ length: members }, (_, i) => ({
        userId: String(i + 1),
        token: signPeerToken(PEER_SECRET, String(i + 1)),
      })),
    )
    const env = heraldEnv({
      DATABASE_URL: database.url,
      BUS: 'memory',
      DATA_DIR: work,
      CHANNEL_TOKEN_SECRET: channelTokenSecret,
    })
    const start = async (kind: Kind) => {
      const usersFile = kind === 'herald' ? users : peers
      const { server, url } = await startServer(kind, usersFile, kind === 'herald' ? env : {})
      return { server, url, usersFile }
    }
    const settings = { members, edges: presenceEdges(members), eventTimeoutMs: 2_000, warmup: 50 }
    const kinds = KINDS.filter((kind) => kind !== 'ws')
    const presenceReps = Number(options['presence-reps'])
    return await runPresence({ client, log, start, channelTokenSecret }, settings, kinds, presenceReps)
  } finally {
    await database.drop()
  }
}

// ── Restart storm ───────────────────────────────────────────────────────────────────────────────────────

function stormPhase() {
  return runStorm(
    {
      log,
      heraldEnv,
      createDatabase,
      async seedUsers(url, n) {
        const handle = await openDatabase({ databaseUrl: url })
        try {
          return await seedHeraldUsers(handle.db, JWT_SECRET, n)
        } finally {
          await handle.close()
        }
      },
      writeUsers,
      adminKey: ADMIN_KEY,
      peerSecret: PEER_SECRET,
      work,
    },
    {
      ...STORM_DEFAULTS,
      clients: Number(options['storm-clients']),
      processes: Number(options['storm-processes']),
      servers: options['storm-servers']!.split(',') as ('herald' | 'socketio')[],
      signals: options['storm-signals']!.split(',') as ('SIGTERM' | 'SIGKILL')[],
    },
  )
}

// ── Main ────────────────────────────────────────────────────────────────────────────────────────────────

async function main() {
  const limit = openFilesLimit()
  const allSizes = [...sizes, ...(maxSize ? [maxSize] : [])]
  for (const n of [...allSizes, ...(options['skip-storm'] ? [] : [Number(options['storm-clients'])])]) {
    if (n + 500 > limit)
      throw new Error(`${n} connections need more open files than the limit of ${limit}; raise ulimit -n`)
  }
  log(`bench: building the Node servers; work directory ${work}`)
  await buildNodeServers()
  // Anything else running skews every number: say so before, and record it with the results.
  const quiet = startCpuMeter({})
  await sleep(2_000)
  const busyBefore = quiet.stop().machine!
  if (busyBefore > 15)
    log(`bench: warning: the machine was ${busyBefore}% busy before the run started; results will be noisier`)
  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: { ...(await machine()), busyBeforeStartPercent: busyBefore },
    settings: {
      reps,
      sizes,
      maxSize,
      pacedSends: PACED_SENDS,
      pacedIntervalMs: Object.fromEntries(allSizes.map((n) => [n, pacedIntervalMs(n)])),
      floodDeliveries: FLOOD_DELIVERIES,
      stored: STORED,
    },
    hub: [],
    stored: [],
  }
  const client = Child.spawn('client', [...pinTo(1), process.execPath, 'bench/client.ts'])
  await client.waitEvent('ready')

  if (!options['skip-hub']) {
    const plan = allSizes.map((n) => ({
      n,
      kinds: n === maxSize ? KINDS.filter((kind) => kind === 'herald' || kind === 'bun') : KINDS,
    }))
    for (const { n, kinds } of plan) {
      const database = await createDatabase()
      try {
        const handle = await openDatabase({ databaseUrl: database.url })
        const heraldUsers = await seedHeraldUsers(handle.db, JWT_SECRET, n)
        await handle.close()
        const files = {
          heraldDb: database.url,
          herald: writeUsers(`herald-${n}`, heraldUsers),
          peers: writeUsers(
            `peers-${n}`,
            Array.from({ length: n }, (_, i) => ({
              userId: String(i + 1),
              token: signPeerToken(PEER_SECRET, String(i + 1)),
            })),
          ),
        }
        for (let rep = 1; rep <= (n === maxSize ? 1 : reps); rep++) {
          // The order rotates, so no server always runs first (or right after the same neighbour).
          const order = kinds.map((_, i) => kinds[(i + rep - 1) % kinds.length]!)
          for (const kind of order) {
            const started = performance.now()
            const cell = await hubCell(client, kind, n, rep, files)
            results.hub.push(cell)
            log(
              `bench: N=${n} rep ${rep} ${kind}: ${cell.error ?? `${cell.connected} connected, ${Math.round(cell.bytesPerConnection)} B/conn, broadcast ${Math.round(cell.broadcastFlood?.ratePerSec ?? 0)}/s, per-user ${Math.round(cell.perUserFlood?.ratePerSec ?? 0)}/s`} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
            )
          }
        }
      } finally {
        await database.drop()
      }
    }
  }

  // Part of the hub measurements: --skip-hub leaves it out too.
  if (!options['skip-hub'] && !options['skip-churn']) {
    const started = performance.now()
    results.churn = await churnPhase(client)
    const c = results.churn
    log(
      `bench: churn: ${c.error ?? `${c.measured.cycles} cycles (${Math.round(c.measured.ratePerSec)}/s, ${c.measured.failed} failed), RSS ${c.rssStartKiB} → ${c.rssEndKiB} KiB (${c.rssRatio.toFixed(3)}×)`} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    )
  }

  // Its own servers and users: it runs with --skip-hub too.
  if (!options['skip-presence']) results.presence = await presencePhase(client)

  if (!options['skip-stored']) {
    for (let rep = 1; rep <= reps; rep++) {
      for (const db of options['stored-dbs']!.split(',') as ('pglite' | 'postgres')[]) {
        const started = performance.now()
        const cell = await storedCell(client, db, rep)
        results.stored.push(cell)
        log(
          `bench: stored ${db} rep ${rep}: ${cell.error ?? `${Math.round(cell.createdPerSec)}/s created, ${cell.delivered} delivered, batch route ${Math.round(cell.batch?.createdPerSec ?? 0)}/s, p99 ${cell.deliveryP99?.toFixed(1)} ms, replay ${cell.replayMs?.toFixed(1)} ms${cell.bare ? `, bare insert ${Math.round(cell.bare.insertsPerSec)}/s` : ''}`} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
        )
      }
    }
  }

  if (!options['skip-storm']) results.storm = await stormPhase()

  await client.stop()
  results.finishedAt = new Date().toISOString()
  const resultsDir = join(import.meta.dir, 'results')
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${results.startedAt.replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
  // In the repository's own format, so `npm run lint` passes with the file committed.
  Bun.spawnSync([join(ROOT, 'node_modules/.bin/biome'), 'format', '--write', file], { cwd: ROOT })
  console.log(renderReport(results))
  log(`bench: results in ${file}`)
}

try {
  await main()
  clearTimeout(hardStop)
  shutdown(0)
} catch (error) {
  console.error('bench failed:', error)
  shutdown(1)
}
