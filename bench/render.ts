// Prints the Markdown tables of a results file again: `bun bench/render.ts bench/results/<timestamp>.json`.
import { readFileSync } from 'node:fs'
import { renderReport } from './lib/report'
import type { BenchResults } from './lib/results'

const file = process.argv[2]
if (!file) {
  console.error('usage: bun bench/render.ts bench/results/<timestamp>.json')
  process.exit(2)
}
console.log(renderReport(JSON.parse(readFileSync(file, 'utf8')) as BenchResults))
