import { resolve } from 'node:path'

// The kinds of value a configuration variable can hold. A kind parses the trimmed, non-blank text of the
// variable and says what it accepts (the README's "accepts" column); a refusal goes through `fail`, which the
// loader turns into one sentence naming the variable, so every message has the same shape.

export interface ParseContext {
  /** Refuses the value: `NAME <requirement>, got "<got>".` (a secret's value is never quoted back). */
  fail(requirement: string, got?: string): never
  /** The parsed value of a variable declared earlier: a bound such as "at most MAX_CONNECTIONS". */
  valueOf(name: string): unknown
  /** The variable is unset and its declared default is being parsed. */
  readonly defaulted: boolean
}

export interface Kind<T> {
  /** For the README: what a value may be. */
  readonly accepts: string
  readonly parse: (raw: string, context: ParseContext) => T
  /** Never quoted back in an error. */
  readonly secret?: boolean
  /** Integers: the bounds; `max` may name an integer variable declared earlier. */
  readonly range?: { readonly min: number; readonly max: number | string }
  /** Enumerations and booleans: every accepted text. */
  readonly values?: readonly string[]
  /** Secrets: the shortest accepted. */
  readonly minLength?: number
}

/** "a, b or c" */
export function alternatives(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`
}

export function integer(min: number, max: number | string): Kind<number> {
  const upperBound = (context: ParseContext) => {
    if (typeof max === 'number') return max
    // A bound named after another variable holds what is given: a default above it (MAX_CONNECTIONS_PER_USER's
    // 10 with MAX_CONNECTIONS=5) stays, as the smaller limit rules anyway.
    return context.defaulted ? Number.POSITIVE_INFINITY : (context.valueOf(max) as number)
  }
  const top = max === Number.MAX_SAFE_INTEGER ? null : max
  return {
    accepts: top === null ? `${min} or more` : `${min}–${top}`,
    range: { min, max },
    parse(raw, context) {
      const limit = upperBound(context)
      const value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN
      if (!(value >= min && value <= limit)) {
        const upTo = typeof max === 'number' ? max : `${max} (${limit})`
        context.fail(`must be a whole number from ${min} to ${upTo}`, raw)
      }
      return value
    },
  }
}

export function oneOf<const Value extends string>(values: readonly Value[]): Kind<Value> {
  return {
    accepts: values.join(', '),
    values,
    parse(raw, context) {
      if (!values.includes(raw as Value)) context.fail(`must be ${alternatives(values)}`, raw)
      return raw as Value
    },
  }
}

export const boolean: Kind<boolean> = {
  accepts: 'true, false',
  values: ['true', 'false'],
  parse(raw, context) {
    if (raw !== 'true' && raw !== 'false') context.fail('must be true or false', raw)
    return raw === 'true'
  },
}

export const text: Kind<string> = { accepts: 'text', parse: (raw) => raw }

/** Resolved against the working directory. */
export const directory: Kind<string> = { accepts: 'a directory', parse: (raw) => resolve(raw) }

export function secret(minLength: number): Kind<string> {
  return {
    accepts: `${minLength} characters or more`,
    secret: true,
    minLength,
    parse(raw, context) {
      if (raw.length < minLength) context.fail(`must be at least ${minLength} characters long`)
      return raw
    },
  }
}

export const privateKey: Kind<`0x${string}`> = {
  accepts: '0x and 64 hex digits',
  secret: true,
  parse(raw, context) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(raw)) context.fail('must be 0x followed by 64 hex digits')
    return raw as `0x${string}`
  },
}

/** Kept as written. Only the scheme is quoted back: a URL may hold a password. */
export function url(protocols: readonly string[]): Kind<string> {
  const schemes = protocols.map((protocol) => `${protocol}//`)
  return {
    accepts: `${alternatives(schemes)} URL`,
    parse(raw, context) {
      const parsed = URL.parse(raw)
      if (!parsed || !protocols.includes(parsed.protocol))
        context.fail(`must be a URL starting with ${alternatives(schemes)}`, parsed?.protocol)
      return raw
    },
  }
}

/** Comma-separated; blank entries are skipped, but at least one must remain. */
function listOf<T>(accepts: string, item: (entry: string, context: ParseContext) => T): Kind<T[]> {
  return {
    accepts: `${accepts}, comma-separated`,
    parse(raw, context) {
      const entries = raw
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean)
      if (entries.length === 0) context.fail('must list at least one value')
      return entries.map((entry) => item(entry, context))
    },
  }
}

export const domains = listOf('host or host:port', (entry, context) => {
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(entry)) context.fail('must list host or host:port values', entry)
  return entry
})

export const chainIds = listOf('chain ids', (entry, context) => {
  const id = /^\d+$/.test(entry) ? Number(entry) : 0
  if (!(id >= 1 && id <= Number.MAX_SAFE_INTEGER)) context.fail('must list positive whole numbers', entry)
  return id
})

/** Normalised to the URL's origin (`HTTP://Host:80/` → `http://host`), as browsers send it; or `*`. */
export const origins = listOf('origins (https://host[:port]) or *', (entry, context) => {
  if (entry === '*') return entry
  const parsed = URL.parse(entry)
  const bare = parsed?.pathname === '/' && !parsed.search && !parsed.hash && !parsed.username
  if (parsed && bare && ['http:', 'https:'].includes(parsed.protocol)) return parsed.origin
  return context.fail('must list origins like https://app.example.com (or *)', entry)
})

/**
 * Web Push endpoint hosts: a host name, `*.name` (every subdomain of name, not name itself) or an IP literal
 * (IPv6 with or without brackets). Kept lower-case, IPv6 in brackets, as URL.hostname gives them.
 */
export const hostPatterns = listOf('host names, *.host or IP literals', (entry, context) => {
  const lower = entry.toLowerCase()
  const ipv6 = /^\[?([0-9a-f:.]+)\]?$/.exec(lower)
  if (ipv6?.[1]?.includes(':')) {
    const parsed = URL.parse(`https://[${ipv6[1]}]/`)
    if (parsed) return parsed.hostname
  }
  if (/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(lower)) return lower
  return context.fail('must list host names, *.host patterns or IP literals', entry)
})

/** A base64url key of a fixed length in bytes (VAPID: 65 for the public point, 32 for the private scalar). */
export function vapidKey(bytes: number, isSecret = false): Kind<string> {
  return {
    accepts: `base64url of ${bytes} bytes`,
    secret: isSecret,
    parse(raw, context) {
      const ok = /^[A-Za-z0-9_-]+$/.test(raw) && Buffer.from(raw, 'base64url').length === bytes
      if (!ok) context.fail(`must be the base64url encoding of ${bytes} bytes`, isSecret ? undefined : raw)
      return raw
    },
  }
}

/** How to reach an operator: a mailto: or https: URL (RFC 8292's `sub`). */
export const contactUrl: Kind<string> = {
  accepts: 'mailto: or https: URL',
  parse(raw, context) {
    const parsed = URL.parse(raw)
    if (!parsed || !['mailto:', 'https:'].includes(parsed.protocol))
      context.fail('must be a mailto: or https: URL', raw)
    return raw
  },
}
