import { HeraldError } from '../errors'

const MAX_JSON_DEPTH = 64

/**
 * Why PostgreSQL could not store a value (text and jsonb hold no U+0000 and no unpaired surrogate; very deep
 * jsonb exhausts its stack), or null. Checked before anything is written, so such input is a 422 and never a 500 or a partial write.
 */
export function unstorable(value: unknown, depth = 0): string | null {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return 'contains the NUL character (U+0000)'
    // JSON may carry half of a surrogate pair ("\ud800"); PostgreSQL's jsonb refuses it.
    return value.isWellFormed() ? null : 'contains an unpaired UTF-16 surrogate'
  }
  if (value === null || typeof value !== 'object') return null
  if (depth >= MAX_JSON_DEPTH) return `is nested deeper than ${MAX_JSON_DEPTH} levels`
  for (const [key, item] of Object.entries(value)) {
    const problem = unstorable(key, depth + 1) ?? unstorable(item, depth + 1)
    if (problem) return problem
  }
  return null
}

export function assertStorable(fields: Record<string, unknown>) {
  for (const [name, value] of Object.entries(fields)) {
    const problem = unstorable(value)
    if (problem) throw new HeraldError('INVALID_INPUT', `body.${name}: ${problem}.`)
  }
}
