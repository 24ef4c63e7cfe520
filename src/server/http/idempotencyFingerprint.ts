import { createHash } from 'node:crypto'
import canonicalize from 'canonicalize'

/** "The same body" is the same JSON value: RFC 8785's canonical form, hashed, of the path's parameters and the body. */
export function fingerprint(params: unknown, body: unknown): string {
  const value = { params: params ?? {}, body: body === undefined || body === '' ? null : body }
  return createHash('sha256').update(canonical(value)).digest('hex')
}

/**
 * RFC 8785 has no form for a number JavaScript cannot hold (JSON's `1e999` parses to Infinity) nor for a string
 * with half of a surrogate pair (`"\ud800"`): such values are taken by a spelling of their own, so the body
 * still has a fingerprint (and the route refuses it as it would anyway). The spellings cannot be confused with
 * a JSON string: they start with U+0000, which no stored string holds.
 */
function canonical(value: unknown): string {
  try {
    return canonicalize(value) ?? 'null'
  } catch {
    return canonicalize(spellable(value)) ?? 'null'
  }
}

function spellable(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : `\u0000${value}`
  if (typeof value === 'string') return value.isWellFormed() ? value : `\u0000${JSON.stringify(value)}`
  if (Array.isArray(value)) return value.map(spellable)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [spellable(key) as string, spellable(item)]),
  )
}
