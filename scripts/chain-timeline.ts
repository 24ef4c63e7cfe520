// Draws the timeline picture of docs/chain.md from a recorded run of one reorganisation: what the chain did,
// and what the recipient of the transfer saw (its data_update messages and its notification), in time order.
//
//   HERALD_RECORD_TIMELINE=docs/chain-timeline.json bun test src/server/chain/reorg.test.ts -t "another height"
//   bun scripts/chain-timeline.ts docs/chain-timeline.json docs/chain-timeline.svg
//
// The record is written by that test (recordTimeline in test/helpers/chainTimeline.ts); `npm run demo -- reorg
// --record <file>` writes the same.
import { readFileSync, writeFileSync } from 'node:fs'

interface ChainEvent {
  t: number
  kind: 'chain'
  label: string
  block: number
}
interface UpdateEvent {
  t: number
  kind: 'update'
  action: 'created' | 'updated' | 'deleted'
  status: 'included' | 'confirmed' | 'reorged'
  confirmations: number
  block: number
}
interface NotificationEvent {
  t: number
  kind: 'notification'
  type: string
  title: string
}
export interface TimelineRecord {
  confirmations: number
  txHash?: string
  events: (ChainEvent | UpdateEvent | NotificationEvent)[]
}

const COLORS = {
  included: { fill: '#eef2ff', stroke: '#4f46e5', text: '#3730a3' },
  confirmed: { fill: '#dcfce7', stroke: '#16a34a', text: '#166534' },
  reorged: { fill: '#fee2e2', stroke: '#dc2626', text: '#991b1b' },
  chain: { fill: '#f3f4f6', stroke: '#6b7280', text: '#374151' },
  notification: { fill: '#fef9c3', stroke: '#ca8a04', text: '#854d0e' },
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** The SVG of a record: one row per event, the chain on the left, the recipient's view on the right. */
export function drawTimeline(record: TimelineRecord): string {
  const width = 980
  const top = 96
  const row = 40
  const x = { time: 24, chain: 84, view: 540 }
  /** Wide enough for 13 px semibold text. */
  const span = (label: string) => 28 + label.length * 7.6
  const events = [...record.events].sort((a, b) => a.t - b.t)
  const height = top + events.length * row + 56
  const parts: string[] = []
  const text = (tx: number, ty: number, content: string, attrs = '') =>
    parts.push(`<text x="${tx}" y="${ty}" ${attrs}>${escapeXml(content)}</text>`)
  const box = (
    bx: number,
    by: number,
    w: number,
    color: (typeof COLORS)[keyof typeof COLORS],
    label: string,
  ) => {
    parts.push(
      `<rect x="${bx}" y="${by - 15}" width="${w}" height="26" rx="13" fill="${color.fill}" stroke="${color.stroke}"/>`,
    )
    text(bx + 12, by + 3, label, `fill="${color.text}" font-weight="600"`)
  }

  text(24, 32, 'One reorganisation, as Herald told it', 'font-size="18" font-weight="700" fill="#111827"')
  text(
    24,
    54,
    `Recorded from a real run (src/server/chain/reorg.test.ts) on anvil: ${record.confirmations} confirmations required, the watcher polling every 100 ms.`,
    'fill="#6b7280"',
  )
  text(x.time, top - 14, 'ms', 'fill="#6b7280" font-weight="600"')
  text(x.chain, top - 14, 'the chain', 'fill="#6b7280" font-weight="600"')
  text(
    x.view,
    top - 14,
    'what the recipient sees, live (n/N: confirmations)',
    'fill="#6b7280" font-weight="600"',
  )
  parts.push(
    `<line x1="${x.view - 16}" y1="${top - 8}" x2="${x.view - 16}" y2="${height - 40}" stroke="#e5e7eb" stroke-width="2"/>`,
  )

  events.forEach((event, i) => {
    const y = top + 16 + i * row
    text(x.time, y + 4, String(event.t), 'fill="#9ca3af" font-family="ui-monospace, monospace"')
    if (event.kind === 'chain') {
      box(x.chain, y, span(event.label), COLORS.chain, event.label)
    } else if (event.kind === 'update') {
      const what =
        event.status === 'included'
          ? `included · ${event.confirmations}/${record.confirmations} · block ${event.block}`
          : event.status === 'confirmed'
            ? `confirmed · ${event.confirmations}/${record.confirmations} · block ${event.block}`
            : `reorged · was in block ${event.block}`
      box(x.view, y, span(what), COLORS[event.status], what)
      text(x.view + span(what) + 10, y + 4, `data_update ${event.action}`, 'fill="#9ca3af"')
    } else {
      const what = `notified: ${event.title}`
      box(x.view, y, span(what), COLORS.notification, what)
      text(x.view + span(what) + 10, y + 4, event.type, 'fill="#9ca3af"')
    }
  })
  const notices = events.filter((e) => e.kind === 'notification').length
  text(
    24,
    height - 20,
    `${notices} notification${notices === 1 ? '' : 's'} for the recipient, sent once the transfer had its confirmations on the chain that stayed.`,
    'fill="#6b7280"',
  )
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13" role="img">`,
    '<title>One reorganisation as Herald told it: included, reorged, included again at another height, confirmed, one notification</title>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n')
}

if (import.meta.main) {
  const [input, output] = process.argv.slice(2)
  if (!input || !output) {
    console.error('usage: bun scripts/chain-timeline.ts <record.json> <out.svg>')
    process.exit(2)
  }
  const record = JSON.parse(readFileSync(input, 'utf8')) as TimelineRecord
  writeFileSync(output, drawTimeline(record))
  console.log(`wrote ${output} (${record.events.length} events)`)
}
