// The presence phase of `npm run bench` (docs/benchmarks.md): `members` users, each on a connection of its
// own, join one members channel one after another, then leave it one after another, then all join at once and
// all leave at once; every subscriber receives every join and leave (bench/lib/presenceClient.ts). The runs
// are cut into buckets of member counts, each with the server's own CPU time (process.cpuUsage, microseconds),
// so the report shows the cost of one event divided by its fan-out as the channel grows: flat (or falling,
// as the fixed part of an event spreads over more deliveries) when nothing per event grows with the members
// beyond the fan-out itself. Herald against bare Bun topics and Socket.IO rooms, which send the same frames
// with no bookkeeping.
import { sleep } from './clock'
import type { Child } from './control'
import { startCpuMeter } from './proc'
import type { Cpu, Kind, PresenceBucket, PresenceCell } from './results'

export const PRESENCE_CHANNEL = 'private:bench-presence'
/** How long the server's idle CPU is read for, with every member connected and none subscribed. */
const IDLE_MS = 2_000

export interface PresenceSettings {
  members: number
  /** Member counts where the sequential runs are cut (the last is `members`), e.g. 100, 300, 1,000. */
  edges: number[]
  /** How long a sequential run waits for one event's deliveries before it goes on (counted incomplete). */
  eventTimeoutMs: number
  /** Members that join and leave once before the measured runs (route compilation, lazy modules, JIT). */
  warmup: number
}

/** The member counts where runs are cut: a tenth, three tenths and all of `members` (no repeats, no zero). */
export function presenceEdges(members: number): number[] {
  return [...new Set([Math.round(members / 10), Math.round((members * 3) / 10), members])].filter(
    (n) => n > 0,
  )
}

export interface PresenceDeps {
  client: Child
  log(line: string): void
  /** Starts a server of `kind` for the run: its process, its WebSocket URL, and its users file. */
  start(kind: Kind): Promise<{ server: Child; url: string; usersFile: string }>
  /** The secret Herald signs private channels' subscription tokens with (the peers take none). */
  channelTokenSecret: string
}

type Run = {
  stopped: string | null
  events: number
  expected: number
  received: number
  incomplete: number
  ms: number
  p50: number
  p99: number
  max: number
}

const cpuMicros = async (server: Child) => {
  const usage = await server.request<{ user: number; system: number }>('cpu')
  return usage.user + usage.system
}

/** One run, measured: the client's command between two readings of the server's CPU time. */
async function bucket(
  deps: PresenceDeps,
  server: Child,
  idlePercent: number,
  shape: Pick<PresenceBucket, 'kind' | 'mode' | 'fromMembers' | 'toMembers'>,
  command: string,
  args: Record<string, unknown>,
  timeoutMs: number,
): Promise<PresenceBucket> {
  const meter = startCpuMeter({ server: server.pid, client: deps.client.pid })
  const before = await cpuMicros(server)
  const started = performance.now()
  const run = await deps.client.request<Run>(command, { kind: shape.kind, ...args }, timeoutMs)
  const serverCpuMs = ((await cpuMicros(server)) - before) / 1000
  if (run.stopped) throw new Error(`${shape.mode} ${shape.kind} stopped: ${run.stopped}`)
  const netCpuMs = Math.max(0, serverCpuMs - ((performance.now() - started) * idlePercent) / 100)
  const fanOut = run.received / Math.max(1, run.events)
  const cpuUsPerEvent = (netCpuMs * 1000) / Math.max(1, run.events)
  return {
    ...shape,
    ...run,
    eventsPerSec: run.events / (run.ms / 1000),
    deliveriesPerSec: run.received / (run.ms / 1000),
    serverCpuMs,
    netCpuMs,
    cpuUsPerEvent,
    fanOut,
    cpuNsPerDelivery: fanOut > 0 ? (cpuUsPerEvent * 1000) / fanOut : Number.NaN,
    cpu: meter.stop() as unknown as Cpu,
  }
}

async function presenceCell(
  deps: PresenceDeps,
  settings: PresenceSettings,
  kind: Kind,
  rep: number,
): Promise<PresenceCell> {
  const cell: PresenceCell = {
    server: kind,
    rep,
    members: settings.members,
    connected: 0,
    idleCpuPercent: 0,
    buckets: [],
  }
  const { server, url, usersFile } = await deps.start(kind)
  const { client } = deps
  const m = settings.members
  // Each event waits at most eventTimeoutMs, and five incomplete in a row end the run.
  const sequentialMs = (events: number) => events * settings.eventTimeoutMs + 30_000
  try {
    const connected = await client.request<{ connected: number }>(
      'presenceConnect',
      {
        kind,
        url,
        usersFile,
        n: m,
        channel: PRESENCE_CHANNEL,
        channelTokenSecret: kind === 'herald' ? deps.channelTokenSecret : '',
      },
      120_000,
    )
    cell.connected = connected.connected
    if (cell.connected < m) throw new Error(`${cell.connected} of ${m} members connected`)
    const warm = Math.min(settings.warmup, m)
    const quick = { eventTimeoutMs: settings.eventTimeoutMs }
    for (const kindOf of ['join', 'leave'] as const)
      await client.request(
        'presenceSequential',
        { kind: kindOf, from: 0, to: warm, ...quick },
        sequentialMs(warm),
      )
    const idleFrom = await cpuMicros(server)
    const idleStarted = performance.now()
    await sleep(IDLE_MS)
    cell.idleCpuPercent =
      (((await cpuMicros(server)) - idleFrom) / 1000 / (performance.now() - idleStarted)) * 100
    const idle = cell.idleCpuPercent
    // One after another, up: members [a, b) join, from a subscribed to b.
    let a = 0
    for (const b of settings.edges) {
      const shape = { kind: 'join', mode: 'sequential', fromMembers: a, toMembers: b } as const
      const args = { from: a, to: b, ...quick }
      cell.buckets.push(
        await bucket(deps, server, idle, shape, 'presenceSequential', args, sequentialMs(b - a)),
      )
      a = b
    }
    // And down: from `high` subscribed to `low`, members [m − high, m − low) leave.
    const downs = [...settings.edges.slice(0, -1)].reverse().concat(0)
    let high = m
    for (const low of downs) {
      const shape = { kind: 'leave', mode: 'sequential', fromMembers: high, toMembers: low } as const
      const args = { from: m - high, to: m - low, ...quick }
      cell.buckets.push(
        await bucket(deps, server, idle, shape, 'presenceSequential', args, sequentialMs(high - low)),
      )
      high = low
    }
    // All at once: the throughput, with the server batching what arrives together.
    const burst = { from: 0, to: m, quietMs: 500, timeoutMs: 60_000 }
    for (const kindOf of ['join', 'leave'] as const) {
      const shape = {
        kind: kindOf,
        mode: 'burst',
        fromMembers: kindOf === 'join' ? 0 : m,
        toMembers: kindOf === 'join' ? m : 0,
      } as const
      cell.buckets.push(await bucket(deps, server, idle, shape, 'presenceBurst', burst, 90_000))
    }
  } catch (error) {
    cell.error = String(error)
  } finally {
    await client.request('presenceClose', {}, 30_000).catch(() => {})
    await server.stop()
  }
  return cell
}

/** Every kind (Herald, bare Bun, Socket.IO) `reps` times, the order rotating between repetitions. */
export async function runPresence(
  deps: PresenceDeps,
  settings: PresenceSettings,
  kinds: Kind[],
  reps: number,
): Promise<PresenceCell[]> {
  const cells: PresenceCell[] = []
  for (let rep = 1; rep <= reps; rep++) {
    const order = kinds.map((_, i) => kinds[(i + rep - 1) % kinds.length]!)
    for (const kind of order) {
      const started = performance.now()
      const cell = await presenceCell(deps, settings, kind, rep)
      cells.push(cell)
      const joins = cell.buckets.filter((b) => b.kind === 'join' && b.mode === 'sequential')
      deps.log(
        `bench: presence ${kind} rep ${rep}: ${
          cell.error ??
          joins.map((b) => `${b.toMembers} members ${b.cpuNsPerDelivery.toFixed(0)} ns/delivery`).join(', ')
        } (${((performance.now() - started) / 1000).toFixed(1)} s)`,
      )
    }
  }
  return cells
}
