import { describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import { ConfigError } from '../errors'
import { directory } from './kinds'
import { type ConfigEnv, configRequirements, configVariables, loadConfig } from './loadConfig'

// Every case here is derived from the declarations, so a variable added to ./variables is checked without
// touching this file: its default, its bounds, its allowed values, its minimum length.

/** One field of the configuration `env` gives, by the field's name. */
const fieldOf = (env: ConfigEnv, field: string) => (loadConfig(env) as Record<string, unknown>)[field]
const defaults = loadConfig({}) as Record<string, unknown>
const declared = (name: string) => configVariables.find((declaration) => declaration.name === name)!
/** Every requirement met, so a value that should be accepted is not refused for another variable. */
const satisfied: ConfigEnv = {
  JWT_SECRET: 'a-jwt-secret-of-at-least-32-characters',
  DEPLOYER_PRIVATE_KEY: `0x${'ab'.repeat(32)}`,
  REDIS_URL: 'redis://127.0.0.1:6379',
  // Shapes only: the configuration checks lengths, web-push the curve.
  VAPID_PUBLIC_KEY: Buffer.alloc(65, 4).toString('base64url'),
  VAPID_PRIVATE_KEY: Buffer.alloc(32, 7).toString('base64url'),
}

/** The one-sentence message `env` is refused with. */
function refusal(env: ConfigEnv): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    const { message } = error as ConfigError
    expect(message).not.toContain('\n')
    expect(message).toMatch(/\.$/)
    return message
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`)
}

describe('the declarations', () => {
  test('name each variable and Config field once, and Config holds exactly the declared fields', () => {
    const names = configVariables.map((declaration) => declaration.name)
    const fields = configVariables.map((declaration) => declaration.field)
    expect(new Set(names).size).toBe(names.length)
    expect(new Set(fields).size).toBe(fields.length)
    for (const name of names) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/)
    expect(Object.keys(defaults).sort()).toEqual([...fields].sort())
  })

  for (const declaration of configVariables) {
    const { name, field } = declaration
    if ('default' in declaration) {
      test(`${name} defaults to ${String(declaration.default)}, and writing that default changes nothing`, () => {
        const value =
          declaration.kind === directory ? resolve(String(declaration.default)) : declaration.default
        expect(defaults[field]).toEqual(value)
        expect(fieldOf({ [name]: String(declaration.default) }, field)).toEqual(value)
      })
    } else {
      test(`${name} is null when unset (${declaration.unset})`, () => {
        expect(defaults[field]).toBeNull()
      })
    }
  }
})

describe('every bound', () => {
  for (const { name, field, kind } of configVariables) {
    if (kind.range) {
      const { min, max } = kind.range
      test(`${name} takes whole numbers from ${min} to ${max}`, () => {
        const top = typeof max === 'number' ? max : (defaults[declared(max).field] as number)
        // Variables bounded by this one come down with it, so its own minimum can be accepted.
        const bounded = configVariables.filter((other) => other.kind.range?.max === name)
        const lowered = Object.fromEntries(
          bounded.map((other) => [other.name, String(other.kind.range!.min)]),
        )
        expect(fieldOf({ ...lowered, [name]: String(min) }, field)).toBe(min)
        expect(fieldOf({ [name]: String(top) }, field)).toBe(top)
        for (const outside of [min - 1, top + 1]) {
          const message = refusal({ [name]: String(outside) })
          expect(message).toStartWith(`${name} must be a whole number from ${min} to ${max}`)
          expect(message).toContain(`got "${outside}"`)
        }
      })
    }
    if (kind.values) {
      const values = kind.values
      test(`${name} takes ${values.join(', ')} and nothing else`, () => {
        for (const value of values) {
          expect(String(fieldOf({ ...satisfied, [name]: value }, field))).toBe(value)
        }
        const message = refusal({ [name]: 'nope' })
        expect(message).toStartWith(`${name} must be `)
        for (const value of values) expect(message).toContain(value)
        expect(refusal({ [name]: values[0]!.toUpperCase() })).toStartWith(name)
      })
    }
    if (kind.minLength !== undefined) {
      const length = kind.minLength
      test(`${name} takes ${length} characters or more, and is never quoted back`, () => {
        const short = 's'.repeat(length - 1)
        const message = refusal({ [name]: short })
        expect(message).toBe(`${name} must be at least ${length} characters long.`)
        expect(fieldOf({ [name]: 'k'.repeat(length) }, field)).toBe('k'.repeat(length))
      })
    }
  }

  test('a bound named after another variable follows that variable, and holds what is given', () => {
    expect(
      loadConfig({
        MAX_CONNECTIONS: '5',
        MAX_CONNECTIONS_PER_USER: '5',
        MAX_ANONYMOUS_CONNECTIONS_PER_IP: '5',
      }),
    ).toMatchObject({ maxConnections: 5, maxConnectionsPerUser: 5, maxAnonymousConnectionsPerIp: 5 })
    expect(refusal({ MAX_CONNECTIONS: '5', MAX_CONNECTIONS_PER_USER: '6' })).toBe(
      'MAX_CONNECTIONS_PER_USER must be a whole number from 1 to MAX_CONNECTIONS (5), got "6".',
    )
    // A default above the bound stays: the smaller limit rules anyway.
    expect(loadConfig({ MAX_CONNECTIONS: '5' })).toMatchObject({
      maxConnections: 5,
      maxConnectionsPerUser: 10,
    })
  })
})

describe('the requirements', () => {
  // One environment per requirement in which it applies; a requirement added without a case here fails.
  const applying: Record<string, ConfigEnv> = {
    JWT_SECRET: { NODE_ENV: 'production' },
    DEPLOYER_PRIVATE_KEY: { CHAIN_RPC_URL: 'http://127.0.0.1:8545' },
    REDIS_URL: { BUS: 'redis' },
    VAPID_PRIVATE_KEY: { VAPID_PUBLIC_KEY: satisfied.VAPID_PUBLIC_KEY! },
    VAPID_PUBLIC_KEY: { VAPID_PRIVATE_KEY: satisfied.VAPID_PRIVATE_KEY! },
  }
  for (const { variable, when } of configRequirements) {
    test(`${variable} must be set when ${when}`, () => {
      const env = applying[variable]
      expect(env).toBeDefined()
      expect(refusal(env!)).toBe(`${variable} must be set when ${when}.`)
      expect(() => loadConfig({ ...env, [variable]: satisfied[variable] })).not.toThrow()
    })
  }
})

describe('loadConfig(env)', () => {
  test('reads only the object it is given: the variables by their own names, anything else ignored', () => {
    const saved = process.env.PORT
    process.env.PORT = '1234'
    try {
      expect(loadConfig({}).port).toBe(3000)
    } finally {
      if (saved === undefined) delete process.env.PORT
      else process.env.PORT = saved
    }
    // What createHerald({ config }) does: the caller's values merged over an environment.
    const environment = { PATH: '/usr/bin', HOME: '/home/herald', TERM: 'xterm', PORT: '8080' }
    const config = loadConfig({ ...environment, DATA_DIR: '/srv/herald', PORT: '0' })
    expect(config).toEqual({ ...loadConfig({}), dataDir: '/srv/herald', port: 0 })
  })

  test('a bad value throws synchronously, naming the variable; nothing is returned half-parsed', () => {
    expect(() => loadConfig({ PATH: '/usr/bin', DATA_DIR: '/srv/herald', MAX_FRAME_BYTES: 'big' })).toThrow(
      new ConfigError('MAX_FRAME_BYTES must be a whole number from 128 to 16777216, got "big".'),
    )
  })
})
