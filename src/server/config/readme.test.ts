import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigVariables } from './loadConfig'

test('the README documents every configuration variable with its default', () => {
  const readme = readFileSync(join(import.meta.dir, '../../../README.md'), 'utf8')
  for (const [name, fallback] of ConfigVariables) {
    expect(readme).toContain(`| \`${name}\` | ${fallback} |`)
  }
})
