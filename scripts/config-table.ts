// Rewrites the configuration table in README.md from the declarations (src/server/config/variables.ts), so
// the two never drift apart; src/server/config/readme.test.ts fails when they do.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { withConfigTable } from '../src/server/config/configTable'

const file = join(import.meta.dir, '../README.md')
writeFileSync(file, withConfigTable(readFileSync(file, 'utf8')))
