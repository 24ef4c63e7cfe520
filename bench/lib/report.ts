import { channelReport } from './channelReport'
import { churnTable, churnTarget } from './churn'
import { presenceReport, presenceTarget } from './presenceReport'
import type { BareResult, BenchResults, Cpu, HubCell, Kind, StoredCell, StoredLoad } from './results'
import { type Spread, spread } from './stats'
import { stormTable } from './stormResult'

const NAMES: Record<Kind, string> = {
  herald: 'Herald',
  bun: 'bare Bun',
  ws: 'ws (Node)',
  socketio: 'Socket.IO (Node)',
}
const ORDER: Kind[] = ['herald', 'bun', 'ws', 'socketio']

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–')
const fixed = (digits: number) => (x: number) => (Number.isFinite(x) ? x.toFixed(digits) : '–')
const ms = fixed(2)
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '–')

/** "median [min–max]" when the runs differ, else the one value. */
function cell(s: Spread, format: (x: number) => string): string {
  if (!Number.isFinite(s.median)) return '–'
  if (s.values.length < 2 || format(s.min) === format(s.max)) return format(s.median)
  return `${format(s.median)} [${format(s.min)}–${format(s.max)}]`
}

function hubSpread(cells: HubCell[], pick: (c: HubCell) => number | undefined): Spread {
  return spread(cells.filter((c) => !c.error).map((c) => pick(c) ?? Number.NaN))
}

export function renderReport(results: BenchResults): string {
  const out: string[] = []
  const cores = Number(results.machine.cores) || 1
  const sizes = [...new Set(results.hub.map((c) => c.n))].sort((a, b) => a - b)
  const group = (n: number, kind: Kind) => results.hub.filter((c) => c.n === n && c.server === kind)
  const median = (n: number, kind: Kind, pick: (c: HubCell) => number | undefined) =>
    hubSpread(group(n, kind), pick).median

  if (sizes.length > 0) {
    out.push('### Hub: N idle authenticated connections, one per user (median [min–max] of the runs)', '')
    out.push(
      '| N | server | connects/s | server RSS per connection | broadcast deliveries/s | broadcast p50 / p99 ms | per-user sends/s | per-user p50 / p99 ms |',
      '|---|---|---|---|---|---|---|---|',
    )
    for (const n of sizes) {
      for (const kind of ORDER) {
        const cells = group(n, kind)
        if (cells.length === 0) continue
        const failed = cells.filter((c) => c.error)
        const s = (pick: (c: HubCell) => number | undefined) => hubSpread(cells, pick)
        out.push(
          `| ${int(n)} | ${NAMES[kind]}${failed.length ? ` (${failed.length} run failed)` : ''} | ${cell(
            s((c) => c.connectsPerSec),
            int,
          )} | ${cell(
            s((c) => c.bytesPerConnection / 1024),
            (x) => `${x.toFixed(2)} KiB`,
          )} | ${cell(
            s((c) => c.broadcastFlood?.ratePerSec),
            int,
          )} | ${ms(s((c) => c.broadcastPaced?.p50).median)} / ${cell(
            s((c) => c.broadcastPaced?.p99),
            ms,
          )} | ${cell(
            s((c) => c.perUserFlood?.ratePerSec),
            int,
          )} | ${ms(s((c) => c.perUserPaced?.p50).median)} / ${cell(
            s((c) => c.perUserPaced?.p99),
            ms,
          )} |`,
        )
      }
    }
    out.push('')
    out.push(
      '### Where the CPU went (median % of one core; 200 = the whole machine): server / load client / rest of the machine',
      '',
      '| N | server | connecting | broadcast flood | per-user flood |',
      '|---|---|---|---|---|',
    )
    for (const n of sizes) {
      for (const kind of ORDER) {
        const cells = group(n, kind)
        if (cells.length === 0) continue
        const split = (pick: (c: HubCell) => Cpu | undefined) => {
          const part = (f: (cpu: Cpu) => number) =>
            int(hubSpread(cells, (c) => (pick(c) ? f(pick(c)!) : undefined)).median)
          return `${part((c) => c.server)} / ${part((c) => c.client)} / ${part((c) => Math.max(0, c.machine * cores - c.server - c.client))}`
        }
        out.push(
          `| ${int(n)} | ${NAMES[kind]} | ${split((c) => c.connectCpu)} | ${split((c) => c.broadcastFlood?.cpu)} | ${split((c) => c.perUserFlood?.cpu)} |`,
        )
      }
    }
    // Floods never touch PostgreSQL (Herald runs BUS=memory there): CPU of other processes is interference.
    const disturbed = results.hub.filter(
      (c) => Math.max(c.broadcastFlood?.cpu.others ?? 0, c.perUserFlood?.cpu.others ?? 0) > 25,
    )
    if (disturbed.length > 0)
      out.push(
        '',
        `Disturbed: in ${disturbed.length} of ${results.hub.length} cells other processes used more than 25% of a core during a flood (${disturbed
          .map((c) => `${NAMES[c.server]} N=${int(c.n)} run ${c.rep}`)
          .join(', ')}); their rates are lower than on a quiet machine.`,
      )
    out.push('')
    out.push('### Herald relative to the peers (ratios of medians)', '')
    out.push('| N | metric | Herald | ÷ bare Bun | ÷ ws | ÷ Socket.IO |', '|---|---|---|---|---|---|')
    const metrics: [string, (c: HubCell) => number | undefined, (x: number) => string][] = [
      ['connects/s', (c) => c.connectsPerSec, int],
      ['RSS per connection (KiB, lower is better)', (c) => c.bytesPerConnection / 1024, fixed(2)],
      ['broadcast deliveries/s', (c) => c.broadcastFlood?.ratePerSec, int],
      ['broadcast p99 ms (lower is better)', (c) => c.broadcastPaced?.p99, ms],
      ['per-user sends/s', (c) => c.perUserFlood?.ratePerSec, int],
      ['per-user p99 ms (lower is better)', (c) => c.perUserPaced?.p99, ms],
    ]
    for (const n of sizes) {
      for (const [label, pick, format] of metrics) {
        const herald = median(n, 'herald', pick)
        const versus = (kind: Kind) => (group(n, kind).length ? ratio(herald, median(n, kind, pick)) : '–')
        out.push(
          `| ${int(n)} | ${label} | ${format(herald)} | ${versus('bun')} | ${versus('ws')} | ${versus('socketio')} |`,
        )
      }
    }
    out.push('')
  }

  out.push(...channelReport(results.hub))
  out.push(...presenceReport(results.presence))

  const stored = (db: StoredCell['db']) => results.stored.filter((c) => c.db === db && !c.error)
  const ss = (db: StoredCell['db'], pick: (c: StoredCell) => number | undefined) =>
    spread(stored(db).map((c) => pick(c) ?? Number.NaN))
  if (results.stored.length > 0) {
    out.push(
      '### Stored path (Herald): POST /api/admin/notifications → stored → pushed (median [min–max] of the runs)',
      '',
    )
    out.push(
      '| database, load | created/s | delivered / created | HTTP p50 / p99 ms | request → receipt p50 / p99 ms | same at 100/s: request → receipt p50 / p99 ms | resume of 1,000 missed, ms | CPU % of a core: server / client / rest of the machine |',
      '|---|---|---|---|---|---|---|---|',
    )
    const rest = (cpu: Cpu | undefined) =>
      cpu ? Math.max(0, cpu.machine * cores - cpu.server - cpu.client) : undefined
    for (const db of ['pglite', 'postgres'] as const) {
      const name = db === 'pglite' ? 'PGlite (embedded, on disk)' : 'PostgreSQL (bus: LISTEN/NOTIFY)'
      const loads: [string, (c: StoredCell) => StoredLoad | undefined, boolean][] = [
        [`${name}, ${stored(db)[0]?.concurrency ?? 16} in flight`, (c) => c, true],
        [`${name}, ${stored(db)[0]?.saturation?.concurrency ?? '?'} in flight`, (c) => c.saturation, false],
      ]
      for (const [label, pick, first] of loads) {
        const cells = stored(db).filter((c) => pick(c))
        if (cells.length === 0) continue
        const delivered = cells.reduce((a, c) => a + pick(c)!.delivered, 0)
        const created = cells.reduce((a, c) => a + pick(c)!.created, 0)
        const l = (f: (load: StoredLoad) => number | undefined) =>
          ss(db, (c) => (pick(c) ? f(pick(c)!) : undefined))
        const m = (pick: (c: StoredCell) => number | undefined) => ss(db, pick).median
        out.push(
          `| ${label} | ${cell(
            l((x) => x.createdPerSec),
            int,
          )} | ${int(delivered)} / ${int(created)} | ${ms(l((x) => x.httpP50).median)} / ${cell(
            l((x) => x.httpP99),
            ms,
          )} | ${ms(l((x) => x.deliveryP50).median)} / ${cell(
            l((x) => x.deliveryP99),
            ms,
          )} | ${
            first
              ? `${ms(m((c) => c.paced?.deliveryP50))} / ${cell(
                  ss(db, (c) => c.paced?.deliveryP99),
                  ms,
                )}`
              : '–'
          } | ${
            first
              ? cell(
                  ss(db, (c) => c.replayMs),
                  ms,
                )
              : '–'
          } | ${int(l((x) => x.cpu?.server).median)} / ${int(l((x) => x.cpu?.client).median)} / ${int(l((x) => rest(x.cpu)).median)} |`,
        )
      }
    }
    for (const db of ['pglite', 'postgres'] as const) {
      const cells = stored(db).filter((c) => c.batch)
      if (cells.length === 0) continue
      const delivered = cells.reduce((a, c) => a + (c.batch?.delivered ?? 0), 0)
      const created = cells.reduce((a, c) => a + (c.batch?.created ?? 0), 0)
      const m = (pick: (c: StoredCell) => number | undefined) => ss(db, pick).median
      const size =
        (results.settings.stored as { batchSize?: number; batchConcurrency?: number } | undefined) ?? {}
      out.push(
        `| ${db === 'pglite' ? 'PGlite' : 'PostgreSQL'}: batch route, ${size.batchSize ?? '?'} recipients per request (${size.batchConcurrency ?? '?'} in flight) | ${cell(
          ss(db, (c) => c.batch?.createdPerSec),
          int,
        )} | ${int(delivered)} / ${int(created)} | ${ms(m((c) => c.batch?.httpP50))} / ${cell(
          ss(db, (c) => c.batch?.httpP99),
          ms,
        )} (per request) | ${ms(m((c) => c.batch?.deliveryP50))} / ${cell(
          ss(db, (c) => c.batch?.deliveryP99),
          ms,
        )} | – | – | ${int(m((c) => c.batch?.cpu?.server))} / ${int(m((c) => c.batch?.cpu?.client))} / ${int(m((c) => (c.batch?.cpu ? Math.max(0, c.batch.cpu.machine * cores - c.batch.cpu.server - c.batch.cpu.client) : undefined)))} |`,
      )
    }
    const ceilings: [string, (c: StoredCell) => BareResult | undefined][] = [
      [
        `PostgreSQL: bare single-row insert, postgres-js, ${stored('postgres')[0]?.concurrency ?? 16} in flight`,
        (c) => c.bare,
      ],
      [
        `PostgreSQL: the same, ${stored('postgres')[0]?.bareSaturation?.concurrency ?? '?'} in flight`,
        (c) => c.bareSaturation,
      ],
      [
        'PostgreSQL: the same insert with pg_notify in its statement (the notify lock), postgres-js',
        (c) => c.bareNotify,
      ],
      [
        "PostgreSQL: Herald's former five-statement transaction (seq bump, insert, NOTIFY), postgres-js",
        (c) => c.bareTransaction,
      ],
    ]
    for (const [label, pick] of ceilings) {
      const rate = ss('postgres', (c) => pick(c)?.insertsPerSec)
      if (!Number.isFinite(rate.median)) continue
      const m = (f: (b: BareResult) => number) => ss('postgres', (c) => (pick(c) ? f(pick(c)!) : undefined))
      out.push(
        `| ${label} | ${cell(rate, int)} | – | ${ms(m((b) => b.p50).median)} / ${cell(
          m((b) => b.p99),
          ms,
        )} (statement or transaction) | – | – | – | – / ${int(m((b) => b.cpu.client).median)} / ${int(m((b) => Math.max(0, b.cpu.machine * cores - b.cpu.client)).median)} |`,
      )
    }
    out.push('')
  }

  // ── Targets of the issue, at 10,000 connections (or the largest size run) ──
  const at = sizes.includes(10_000) ? 10_000 : sizes[sizes.length - 1]
  const rows: [string, string, boolean | null][] = []
  if (at !== undefined) {
    const h = (pick: (c: HubCell) => number | undefined) => median(at, 'herald', pick)
    const p = (kind: Kind, pick: (c: HubCell) => number | undefined) => median(at, kind, pick)
    const mem = h((c) => c.bytesPerConnection / 1024)
    const memSio = p('socketio', (c) => c.bytesPerConnection / 1024)
    const bc = h((c) => c.broadcastFlood?.ratePerSec)
    const bcBun = p('bun', (c) => c.broadcastFlood?.ratePerSec)
    const bcSio = p('socketio', (c) => c.broadcastFlood?.ratePerSec)
    const bp99 = h((c) => c.broadcastPaced?.p99)
    const bp99Bun = p('bun', (c) => c.broadcastPaced?.p99)
    const pu = h((c) => c.perUserFlood?.ratePerSec)
    const puBun = p('bun', (c) => c.perUserFlood?.ratePerSec)
    const puSio = p('socketio', (c) => c.perUserFlood?.ratePerSec)
    const check = (ok: boolean, ...inputs: number[]) => (inputs.every(Number.isFinite) ? ok : null)
    rows.push(
      [
        `memory per idle authenticated connection at ${int(at)} ≤ 8 KiB`,
        `${fixed(2)(mem)} KiB`,
        check(mem <= 8, mem),
      ],
      [
        'memory ≥ 40% below Socket.IO',
        `${fixed(2)(mem)} vs ${fixed(2)(memSio)} KiB (${Number.isFinite(mem / memSio) ? `${Math.round((1 - mem / memSio) * 100)}% below` : '–'})`,
        check(mem <= 0.6 * memSio, mem, memSio),
      ],
      ['broadcast deliveries/s ≥ 0.9× bare Bun', ratio(bc, bcBun), check(bc >= 0.9 * bcBun, bc, bcBun)],
      ['broadcast deliveries/s ≥ 1.8× Socket.IO', ratio(bc, bcSio), check(bc >= 1.8 * bcSio, bc, bcSio)],
      [
        'broadcast p99 ≤ 1.15× bare Bun',
        `${ms(bp99)} vs ${ms(bp99Bun)} ms (${ratio(bp99, bp99Bun)})`,
        check(bp99 <= 1.15 * bp99Bun, bp99, bp99Bun),
      ],
      ['per-user sends/s ≥ 0.85× bare Bun', ratio(pu, puBun), check(pu >= 0.85 * puBun, pu, puBun)],
      ['per-user sends/s ≥ 2× Socket.IO', ratio(pu, puSio), check(pu >= 2 * puSio, pu, puSio)],
    )
  }
  if (results.stored.length > 0) {
    // The ceiling is the most the bare insert reaches at either load, and Herald is taken at the load where
    // it stores the most, with the p99 of that same load: each side at its own best on the same machine.
    const same = ss('postgres', (c) => c.createdPerSec).median
    const sameBare = ss('postgres', (c) => c.bare?.insertsPerSec).median
    const saturated = ss('postgres', (c) => c.saturation?.createdPerSec).median
    const bare = Math.max(sameBare, ss('postgres', (c) => c.bareSaturation?.insertsPerSec).median || 0)
    const atSaturation = saturated > same
    const pg = atSaturation ? saturated : same
    const p99 = atSaturation
      ? ss('postgres', (c) => c.saturation?.deliveryP99).median
      : ss('postgres', (c) => c.deliveryP99).median
    const load = atSaturation
      ? `${stored('postgres')[0]?.saturation?.concurrency} in flight`
      : `${stored('postgres')[0]?.concurrency ?? 16} in flight`
    const check = (ok: boolean, ...inputs: number[]) => (inputs.every(Number.isFinite) ? ok : null)
    rows.push(
      [
        'stored notifications on PostgreSQL ≥ ½ the bare-insert ceiling',
        `${int(pg)} (${load}) vs ${int(bare)}/s (${ratio(pg, bare)}); at the same 16 in flight ${int(same)} vs ${int(sameBare)}/s (${ratio(same, sameBare)})`,
        check(pg >= bare / 2, pg, bare),
      ],
      [
        'stored path p99 (request → receipt) on PostgreSQL < 50 ms at that rate',
        `${ms(p99)} ms`,
        check(p99 < 50, p99),
      ],
    )
    const batchRate = ss('postgres', (c) => c.batch?.createdPerSec).median
    if (Number.isFinite(batchRate))
      rows.push([
        "batch route on PostgreSQL well past the single-row rate (≥ 1.5× Herald's best single-row rate)",
        `${int(batchRate)} vs ${int(pg)}/s (${ratio(batchRate, pg)}); ${ratio(batchRate, bare)} the bare-insert ceiling`,
        check(batchRate >= 1.5 * pg, batchRate, pg),
      ])
    for (const db of ['postgres', 'pglite'] as const) {
      const replay = ss(db, (c) => c.replayMs).median
      rows.push([
        `resume of 1,000 missed notifications < 100 ms (${db === 'pglite' ? 'PGlite' : 'PostgreSQL'})`,
        `${ms(replay)} ms`,
        check(replay < 100, replay),
      ])
    }
  }
  if (results.churn) {
    out.push(...churnTable(results.churn))
    rows.push(churnTarget(results.churn))
  }
  if (results.presence?.length) rows.push(presenceTarget(results.presence))
  if (results.storm) out.push(...stormTable(results.storm))
  if (rows.length > 0) {
    out.push('### Targets of the issue (same run)', '', '| target | measured | holds |', '|---|---|---|')
    for (const [target, measured, ok] of rows)
      out.push(`| ${target} | ${measured} | ${ok === null ? 'not measured' : ok ? 'yes' : '**no**'} |`)
    out.push('')
  }
  return out.join('\n')
}
