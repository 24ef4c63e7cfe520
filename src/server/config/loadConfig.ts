import { ConfigError } from '../errors'
import type { ParseContext } from './kinds'
import { type Config, configRequirements, configVariables } from './variables'

export type { Config, ConfigVariableName, Role } from './variables'
export { configRequirements, configVariables } from './variables'

/** Variables by their own names (`process.env`, or an object merged over it); unknown names are ignored. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>

/**
 * Parses and validates `env` against the declarations in ./variables: synchronous and pure (it reads nothing
 * but `env`; DATA_DIR is resolved against the working directory). Blank values count as unset. A bad value
 * throws a ConfigError whose message is one sentence naming the variable, e.g.
 * `loadConfig({ ...process.env, PORT: '70000' })` throws "PORT must be a whole number from 0 to 65535, got
 * "70000"."
 */
export function loadConfig(env: ConfigEnv): Config {
  const byName = new Map<string, unknown>()
  const config: Record<string, unknown> = {}
  for (const declaration of configVariables) {
    const { name, kind } = declaration
    const given = env[name]?.trim() || undefined
    const fallback = 'default' in declaration ? String(declaration.default) : undefined
    const context: ParseContext = {
      fail(requirement, got) {
        const quoted = got === undefined || kind.secret ? '' : `, got ${JSON.stringify(got)}`
        throw new ConfigError(`${name} ${requirement}${quoted}.`)
      },
      valueOf(other) {
        if (!byName.has(other))
          throw new Error(`${name} depends on ${other}, which must be declared before it.`)
        return byName.get(other)
      },
      defaulted: given === undefined,
    }
    const raw = given ?? fallback
    const value = raw === undefined ? null : kind.parse(raw, context)
    byName.set(name, value)
    config[declaration.field] = value
  }
  for (const { variable, when, applies } of configRequirements) {
    if (byName.get(variable) === null && applies(config as Config))
      throw new ConfigError(`${variable} must be set when ${when}.`)
  }
  return config as Config
}
