import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configTable, findConfigTable } from './configTable'

test('the README configuration table is the one written from the declarations (bun scripts/config-table.ts)', () => {
  const { lines, start, end } = findConfigTable(
    readFileSync(join(import.meta.dir, '../../../README.md'), 'utf8'),
  )
  expect(lines.slice(start, end)).toEqual(configTable())
})
