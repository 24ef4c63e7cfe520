// Rewrites the configuration table in README.md from ConfigVariables (src/server/config/loadConfig.ts), so
// the two never drift apart; src/server/config/readme.test.ts fails when they do.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigVariables } from '../src/server/config/loadConfig'

const file = join(import.meta.dir, '../README.md')
const lines = readFileSync(file, 'utf8').split('\n')
const start = lines.findIndex((line) => /^\|\s*variable\s*\|/.test(line))
if (start < 0) throw new Error('README.md has no configuration table')
let end = start + 2
while (end < lines.length && lines[end]!.startsWith('|')) end++
const rows = ConfigVariables.map(([name, fallback, meaning]) => `| \`${name}\` | ${fallback} | ${meaning} |`)
lines.splice(start, end - start, '| variable | default | meaning |', '| --- | --- | --- |', ...rows)
writeFileSync(file, lines.join('\n'))
