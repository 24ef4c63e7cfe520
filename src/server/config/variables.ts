import type { ConfigOf } from './declaration'
import { chainVariables } from './variables/chain'
import { channelsVariables } from './variables/channels'
import { edgeVariables } from './variables/edge'
import { limitsVariables } from './variables/limits'
import { processVariables } from './variables/process'

// Every variable Herald reads, declared once. The `Config` type, `loadConfig`, its error sentences and the
// README's configuration table are all derived from this list; the tests check every default and bound.
//
// To add a variable, add one `variable({...})` to the group it belongs to (./variables/*.ts, in README order):
// its name in the environment, the `Config` field it fills, its kind (see ./kinds), either a `default` (typed,
// shown in the README) or `unset` (what leaving it unset means; the field is then null), and the `doc` for the
// README. A variable that must be set in some
// configurations gets a line in `configRequirements`. Then run `bun scripts/config-table.ts` for the README.
// A bound may name a variable declared earlier (`integer(1, 'MAX_CONNECTIONS')`), so order matters there.

export const configVariables = [
  ...processVariables,
  ...chainVariables,
  ...limitsVariables,
  ...channelsVariables,
  ...edgeVariables,
]

type Declared = (typeof configVariables)[number]

/** The parsed configuration: one field per declared variable, null where an optional one is unset. */
export type Config = ConfigOf<Declared>
export type Role = Config['role']
export type ConfigVariableName = Declared['name']

/** A variable that must be set in some configurations (the error is `NAME must be set when <when>.`). */
export interface Requirement {
  readonly variable: ConfigVariableName
  readonly when: string
  readonly applies: (config: Config) => boolean
}

export const configRequirements: readonly Requirement[] = [
  {
    variable: 'JWT_SECRET',
    when: 'NODE_ENV is production',
    applies: (config) => config.env === 'production',
  },
  {
    variable: 'DEPLOYER_PRIVATE_KEY',
    when: 'CHAIN_RPC_URL is set, unless ROLE is server',
    applies: (config) => config.chainRpcUrl !== null && config.role !== 'server',
  },
  {
    variable: 'VAPID_PRIVATE_KEY',
    when: 'VAPID_PUBLIC_KEY is set',
    applies: (config) => config.vapidPublicKey !== null,
  },
  {
    variable: 'VAPID_PUBLIC_KEY',
    when: 'VAPID_PRIVATE_KEY is set',
    applies: (config) => config.vapidPrivateKey !== null,
  },
  { variable: 'REDIS_URL', when: 'BUS is redis', applies: (config) => config.bus === 'redis' },
]
