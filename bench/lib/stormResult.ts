import type { Delivery } from './stormStreams'

/** One restart storm (bench/storm.ts): one server, one way of stopping it. Times in ms from the signal. */
export interface StormResult {
  server: 'herald' | 'socketio'
  signal: 'SIGTERM' | 'SIGKILL'
  /** How the instances share messages and, for Socket.IO, sessions. */
  adapter: string
  clients: number
  /** Live before the restart (authenticated, resumed, three channels subscribed). */
  connected: number
  connectMs: number
  /** Signal → the old process exited. */
  stopMs: number
  /** Signal → the new process listening (its exit, the pause, its start-up). */
  downMs: number
  /** Clients live again: down after the mark, then re-authenticated, resumed, every channel subscribed. */
  back: number
  lastBackMs: number
  /** The last one back, after the new process was listening. */
  lastBackAfterReadyMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  /**
   * Where the time went, from the signal, over the clients back: socket open again, authenticated, its three
   * channels subscribed, resumed (Socket.IO: all at `connect`).
   */
  steps?: Record<string, { p50: number; p99: number; max: number }>
  /** Clients back per 500 ms after the signal. */
  curve: number[]
  /** Socket.IO: reconnections with `socket.recovered === true`. */
  recovered?: number
  /** Socket.IO: the clients' disconnect reasons after the mark. */
  downReasons?: Record<string, number>
  published: { rounds: number; channel: number; notifications: number; failed: number; firstError?: string }
  delivery: Delivery
  /** From the signal to the last client back (lib/proc.ts); the servers change pid, so the machine's. */
  cpu: Record<string, number>
  /** The new server process, from listening to the last client back, in percent of one core. */
  serverCpu: number
  error?: string
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–')
const NAMES = { herald: 'Herald (SDK)', socketio: 'Socket.IO 4 (recovery)' }

/** The curve with runs of empty buckets shortened ("0×230"), so a long wait stays one line. */
function curveText(curve: number[] | undefined): string {
  if (!curve) return '–'
  const parts: string[] = []
  for (let i = 0; i < curve.length; ) {
    let j = i
    while (curve[j] === 0 && j < curve.length) j++
    if (j - i > 3) {
      parts.push(`0×${j - i}`)
      i = j
    } else parts.push(String(curve[i++]))
  }
  return parts.join(' ')
}

/** "opened p50/p99/max …" in seconds after the signal, for the steps a client goes through. */
function steps(r: StormResult): string {
  if (r.server !== 'herald' || !r.steps) return ''
  const s = (x: number) => (Number.isFinite(x) ? (x / 1000).toFixed(1) : '–')
  const list = Object.entries(r.steps).map(([step, t]) => `${step} ${s(t.p50)} / ${s(t.p99)} / ${s(t.max)}`)
  return `seconds after the signal (p50 / p99 / max): ${list.join(', ')}; `
}

/** The storm's table for the report (lib/report.ts). */
export function stormTable(results: StormResult[]): string[] {
  if (results.length === 0) return []
  const out = [
    '### Restart storm: clients on three channels each, the server restarted while a second instance publishes',
    '',
    '| server | stop | clients | back | signal → listening | last back (after listening) | p50 / p90 / p99 | Socket.IO recovered | messages expected | lost | duplicated | out of order | new server CPU | machine CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of results) {
    if (r.error && !Number.isFinite(r.lastBackMs)) {
      out.push(`| ${NAMES[r.server]} | ${r.signal} | ${int(r.clients)} | failed: ${r.error} ||||||||||`)
      continue
    }
    const d = r.delivery
    out.push(
      `| ${NAMES[r.server]} | ${r.signal} | ${int(r.connected)} | ${int(r.back)} | ${int(r.downMs)} ms | ${int(r.lastBackMs)} ms (${int(r.lastBackAfterReadyMs)} ms) | ${int(r.p50Ms)} / ${int(r.p90Ms)} / ${int(r.p99Ms)} ms | ${r.recovered === undefined ? '–' : int(r.recovered)} | ${int(d.expected)} | ${int(d.lost)} | ${int(d.duplicated)} | ${int(d.outOfOrder)} | ${int(r.serverCpu)}% | ${int(r.cpu?.machine ?? Number.NaN)}% |`,
    )
  }
  out.push('')
  for (const r of results) {
    out.push(
      `- ${NAMES[r.server]} ${r.signal}: clients back per 500 ms after the signal: ${curveText(r.curve)}; ${steps(r)}published ${int(r.published?.channel ?? 0)} publications and ${int(r.published?.notifications ?? 0)} notifications in ${int(r.published?.rounds ?? 0)} rounds (${int(r.published?.failed ?? 0)} failed)${r.downReasons && Object.keys(r.downReasons).length ? `; disconnect reasons: ${JSON.stringify(r.downReasons)}` : ''}${r.delivery.examples.length ? `; first discrepancies: ${r.delivery.examples.slice(0, 5).join('; ')}` : ''}${r.error ? `; error: ${r.error}` : ''}`,
    )
  }
  out.push('')
  return out
}
