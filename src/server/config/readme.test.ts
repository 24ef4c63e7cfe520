import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigVariables } from './loadConfig'

test('the README documents every configuration variable with its default', () => {
  const readme = readFileSync(join(import.meta.dir, '../../../README.md'), 'utf8')
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  for (const [name, fallback] of ConfigVariables) {
    expect(readme).toMatch(new RegExp(`\\|\\s*\`${literal(name)}\`\\s*\\|\\s*${literal(fallback)}\\s*\\|`))
  }
})
