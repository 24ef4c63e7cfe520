// The churn run: a bounded phase in which a few hundred connections keep cycling (connect, authenticate,
// receive one per-user message, disconnect) against one Herald process, to show that its memory comes back
// to where it was. Client side: `churnClient` (a command of bench/client.ts). Orchestrator side:
// `runChurn` (called by bench/run.ts, which passes in how it starts servers).
import { readFileSync } from 'node:fs'
import { now, sleep } from './clock'
import type { Child } from './control'
import type { HeapSnapshot } from './heap'
import { readRssKiB, startCpuMeter } from './proc'
import type { Cpu } from './results'
import type { BenchUser } from './users'

export interface ChurnSettings {
  /** Connections cycling at once. */
  connections: number
  /** Distinct users they cycle through (twice the connections, so a user's last socket is long gone). */
  users: number
  /** Cycling before the start is measured: pools, JIT and the allocator reach their working size. */
  warmupMs: number
  /** The measured phase. */
  durationMs: number
  /** The server sends one per-user message to every user this often; a cycle waits for the next one. */
  sendIntervalMs: number
}

export const CHURN_DEFAULTS: ChurnSettings = {
  connections: 500,
  users: 1000,
  warmupMs: 20_000,
  durationMs: 120_000,
  sendIntervalMs: 20,
}

export interface ChurnCycles {
  cycles: number
  failed: number
  firstError: string | null
  ratePerSec: number
  /** One cycle: open → authenticated → first per-user message → closed. */
  p50: number
  p99: number
}

export interface ChurnResult {
  server: 'herald'
  settings: ChurnSettings
  warmup: ChurnCycles
  measured: ChurnCycles
  /** Server RSS after a full GC with no connection open: after the warm-up, and at the end. */
  rssStartKiB: number
  rssEndKiB: number
  /** rssEndKiB ÷ rssStartKiB; the target is within 5% (≤ 1.05). */
  rssRatio: number
  /**
   * The JavaScript heap at the same two moments (after a full GC): live objects that outlive their
   * connections would show here, apart from what the allocator keeps.
   */
  heapStart: { heapSize: number; objectCount: number }
  heapEnd: { heapSize: number; objectCount: number }
  /** RSS every 10 s during the measured phase (no GC; connections open), to show the trend. */
  rssSamplesKiB: number[]
  /** Open connections the server still counted at the end, after every client socket closed (should be 0). */
  leftOpen: number
  cpu: Cpu
  error?: string
}

// ── Client side ─────────────────────────────────────────────────────────────────────────────────────────

/** One cycle on a fresh socket; resolves when the server has closed its side too (the client saw `close`). */
function cycle(url: string, token: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    let state: 'opening' | 'authenticating' | 'waiting' | 'closing' = 'opening'
    let failure: Error | null = null
    const timer = setTimeout(() => fail(new Error(`churn cycle stuck while ${state}`)), timeoutMs)
    const fail = (error: Error) => {
      if (failure || state === 'closing') return
      failure = error
      state = 'closing'
      try {
        ws.close()
      } catch {}
    }
    ws.onopen = () => {
      state = 'authenticating'
      ws.send(JSON.stringify({ type: 'auth', token }))
    }
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data as string) as { type?: string }
      if (message.type === 'authenticated') state = 'waiting'
      else if (message.type === 'error') fail(new Error(`server said ${event.data}`))
      else if (state === 'waiting' && message.type === 'data_update') {
        state = 'closing'
        ws.close()
      }
    }
    ws.onerror = () => fail(new Error('WebSocket error'))
    ws.onclose = (event) => {
      clearTimeout(timer)
      if (failure) reject(failure)
      else if (state !== 'closing') reject(new Error(`closed ${event.code} while ${state}`))
      else resolve()
    }
  })
}

/** `connections` loops, each cycling through the users in turn, for `durationMs`. */
export async function churnClient(args: Record<string, unknown>): Promise<ChurnCycles> {
  const url = String(args.url)
  const connections = Number(args.connections)
  const durationMs = Number(args.durationMs)
  const users = JSON.parse(readFileSync(String(args.usersFile), 'utf8')) as BenchUser[]
  const latencies: number[] = []
  let next = 0
  let failed = 0
  let firstError: string | null = null
  const start = now()
  const stopAt = start + durationMs
  const loop = async () => {
    while (now() < stopAt) {
      const user = users[next++ % users.length]!
      const t = now()
      try {
        await cycle(url, user.token, 10_000)
        latencies.push(now() - t)
      } catch (error) {
        failed++
        firstError ??= String(error)
        await sleep(50)
      }
    }
  }
  await Promise.all(Array.from({ length: connections }, loop))
  const end = now()
  const sorted = latencies.sort((a, b) => a - b)
  const at = (p: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN
  return {
    cycles: latencies.length,
    failed,
    firstError,
    ratePerSec: latencies.length / ((end - start) / 1000),
    p50: at(50),
    p99: at(99),
  }
}

// ── Orchestrator side ───────────────────────────────────────────────────────────────────────────────────

export interface ChurnDeps {
  client: Child
  /** Starts Herald on a database holding `settings.users` users whose tokens are in `usersFile`. */
  startHerald(): Promise<{ server: Child; url: string }>
  usersFile: string
  log(line: string): void
}

const heapSummary = (heap: HeapSnapshot) => ({ heapSize: heap.heapSize, objectCount: heap.objectCount })

/** Idle, then a full GC in the server, then its RSS. */
async function settledRss(server: Child): Promise<number> {
  await sleep(1_000)
  await server.request('gc')
  await sleep(500)
  return readRssKiB(server.pid)
}

export async function runChurn(deps: ChurnDeps, settings: ChurnSettings): Promise<ChurnResult> {
  const { client } = deps
  const result = { server: 'herald', settings } as ChurnResult
  const { server, url } = await deps.startHerald()
  // The server pushes to every user of the pool in turn for the whole run; most sends find nobody, which
  // costs a map lookup, and each connected user gets a message within sendIntervalMs.
  const totalMs = settings.warmupMs + settings.durationMs + 30_000
  const sending = server
    .request(
      'perUser',
      { rounds: Math.ceil(totalMs / settings.sendIntervalMs), intervalMs: settings.sendIntervalMs },
      totalMs + 60_000,
    )
    .catch(() => {})
  try {
    const churn = (durationMs: number) =>
      client.request<ChurnCycles>(
        'churn',
        { url, connections: settings.connections, durationMs, usersFile: deps.usersFile },
        durationMs + 60_000,
      )
    result.warmup = await churn(settings.warmupMs)
    result.rssStartKiB = await settledRss(server)
    result.heapStart = heapSummary(await server.request<HeapSnapshot>('heap'))
    deps.log(`bench: churn: warm-up ${result.warmup.cycles} cycles, RSS ${result.rssStartKiB} KiB`)
    const cpu = startCpuMeter({ server: server.pid, client: client.pid })
    result.rssSamplesKiB = []
    const sampler = setInterval(() => result.rssSamplesKiB.push(readRssKiB(server.pid)), 10_000)
    try {
      result.measured = await churn(settings.durationMs)
    } finally {
      clearInterval(sampler)
    }
    result.cpu = cpu.stop() as unknown as Cpu
    result.rssEndKiB = await settledRss(server)
    result.heapEnd = heapSummary(await server.request<HeapSnapshot>('heap'))
    result.rssRatio = result.rssEndKiB / result.rssStartKiB
    const info = await server.request<{ connections: number }>('info')
    result.leftOpen = info.connections
  } catch (error) {
    result.error = String(error)
  } finally {
    await server.stop()
    await sending
  }
  return result
}

// ── Report ──────────────────────────────────────────────────────────────────────────────────────────────

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–')
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–')

/** The Markdown section of the churn run. */
export function churnTable(c: ChurnResult): string[] {
  const s = c.settings
  const lines = [
    `### Churn: ${int(s.connections)} connections cycling (connect, authenticate, receive one per-user message, disconnect) over ${int(s.users)} users, Herald`,
    '',
  ]
  if (c.error) return [...lines, `The run failed: ${c.error}`, '']
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`
  lines.push(
    '| phase | cycles | cycles/s | failed | cycle p50 / p99 ms | server RSS after GC, no connection open |',
    '|---|---|---|---|---|---|',
    `| warm-up, ${s.warmupMs / 1000} s | ${int(c.warmup.cycles)} | ${int(c.warmup.ratePerSec)} | ${int(c.warmup.failed)} | ${ms(c.warmup.p50)} / ${ms(c.warmup.p99)} | ${mib(c.rssStartKiB)} (start) |`,
    `| measured, ${s.durationMs / 1000} s | ${int(c.measured.cycles)} | ${int(c.measured.ratePerSec)} | ${int(c.measured.failed)} | ${ms(c.measured.p50)} / ${ms(c.measured.p99)} | ${mib(c.rssEndKiB)} (end, ${((c.rssRatio - 1) * 100).toFixed(1)}%) |`,
    '',
    `RSS during the measured phase (every 10 s, connections open, no forced GC): ${c.rssSamplesKiB.map(mib).join(', ')}. ` +
      `CPU (% of one core): server ${int(c.cpu.server)}, client ${int(c.cpu.client)}. Connections the server still counted at the end: ${c.leftOpen}. ` +
      (c.heapStart && c.heapEnd
        ? `JavaScript heap after GC, start → end: ${mib(c.heapStart.heapSize / 1024)} → ${mib(c.heapEnd.heapSize / 1024)}, ${int(c.heapStart.objectCount)} → ${int(c.heapEnd.objectCount)} objects.`
        : '') +
      (c.measured.firstError ? ` First failure: ${c.measured.firstError}.` : ''),
    '',
  )
  return lines
}

/** The target row: memory at the end within 5% of the start. */
export function churnTarget(c: ChurnResult): [string, string, boolean | null] {
  const ok = Number.isFinite(c.rssRatio) && !c.error ? c.rssRatio <= 1.05 : null
  return [
    `churn (${c.settings.durationMs / 1000} s of connect, authenticate, receive, disconnect) ends with RSS within 5% of its start`,
    Number.isFinite(c.rssRatio)
      ? `${(c.rssStartKiB / 1024).toFixed(1)} → ${(c.rssEndKiB / 1024).toFixed(1)} MiB (${((c.rssRatio - 1) * 100).toFixed(1)}%)`
      : '–',
    ok,
  ]
}
