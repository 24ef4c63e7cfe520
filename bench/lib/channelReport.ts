import type { HubCell, Kind } from './results'
import { spread } from './stats'

// The channel phases of the hub cells, as the report shows them: subscribes/s, the fan-out of one channel to
// every connection, and Herald's re-subscribe replaying 1,000 stored publications; with the issue's targets.

const NAMES: Partial<Record<Kind, string>> = {
  herald: 'Herald',
  bun: 'bare Bun (topics)',
  socketio: 'Socket.IO (to(room))',
}
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–')
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–')
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? a / b : Number.NaN)

export function channelReport(hub: HubCell[]): string[] {
  const cells = hub.filter((c) => !c.error && c.subscribe)
  if (cells.length === 0) return []
  const sizes = [...new Set(cells.map((c) => c.n))].sort((a, b) => a - b)
  const median = (n: number, kind: Kind, pick: (c: HubCell) => number | undefined) =>
    spread(cells.filter((c) => c.n === n && c.server === kind).map((c) => pick(c) ?? Number.NaN)).median
  const out = [
    '### Channels: every connection subscribed to one channel (medians of the runs)',
    '',
    '| N | server | subscribes/s | fan-out deliveries/s | paced p50 / p99 ms | re-subscribe replaying 1,000, ms (p50 / max) |',
    '|---|---|---|---|---|---|',
  ]
  for (const n of sizes)
    for (const kind of ['herald', 'bun', 'socketio'] as Kind[]) {
      if (!cells.some((c) => c.n === n && c.server === kind)) continue
      const failed = cells.find((c) => c.n === n && c.server === kind && c.channelError)
      const m = (pick: (c: HubCell) => number | undefined) => median(n, kind, pick)
      out.push(
        `| ${int(n)} | ${NAMES[kind]}${failed ? ` (stopped: ${failed.channelError})` : ''} | ${int(m((c) => c.subscribe?.perSec))} | ${int(m((c) => c.channelFlood?.ratePerSec))} | ${ms(m((c) => c.channelPaced?.p50))} / ${ms(m((c) => c.channelPaced?.p99))} | ${
          kind === 'herald'
            ? `${ms(m((c) => c.resubscribe?.p50))} / ${ms(m((c) => c.resubscribe?.max))}`
            : '–'
        } |`,
      )
    }
  const n = sizes[sizes.length - 1]!
  const herald = (pick: (c: HubCell) => number | undefined) => median(n, 'herald', pick)
  const bun = (pick: (c: HubCell) => number | undefined) => median(n, 'bun', pick)
  const rate = ratio(
    herald((c) => c.channelFlood?.ratePerSec),
    bun((c) => c.channelFlood?.ratePerSec),
  )
  const p99 = ratio(
    herald((c) => c.channelPaced?.p99),
    bun((c) => c.channelPaced?.p99),
  )
  const replay = herald((c) => c.resubscribe?.p50)
  const holds = (ok: boolean, measured: number) =>
    Number.isFinite(measured) ? (ok ? 'yes' : '**no**') : 'not measured'
  out.push(
    '',
    `Targets at N=${int(n)}:`,
    '',
    '| target | measured | holds |',
    '|---|---|---|',
    `| channel fan-out deliveries/s ≥ 0.9× bare Bun topics | ${Number.isFinite(rate) ? `${rate.toFixed(2)}×` : '–'} | ${holds(rate >= 0.9, rate)} |`,
    `| channel fan-out p99 ≤ 1.15× bare Bun's | ${Number.isFinite(p99) ? `${p99.toFixed(2)}×` : '–'} | ${holds(p99 <= 1.15, p99)} |`,
    `| re-subscribe replaying 1,000 publications < 50 ms | ${ms(replay)} ms | ${holds(replay < 50, replay)} |`,
    '',
  )
  return out
}
