import { TypeCompiler } from '@sinclair/typebox/compiler'
import { HeraldError } from '../errors'
import { type AnyJobDefinition, DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECONDS } from './defineJob'

/** A job type as the workers and routes see it: its definition, its pg-boss queues and its input check. */
export interface RegisteredJob {
  definition: AnyJobDefinition
  queue: string
  deadQueue: string
  retries: number
  timeoutSeconds: number
  /** Throws INVALID_INPUT (422) naming the first failing field (`input.<path>`). */
  validate(input: unknown): void
}

export interface JobRegistry {
  get(type: string): RegisteredJob | undefined
  all(): RegisteredJob[]
}

/**
 * The deployment keeps the queue names it had before jobs were general, so jobs queued by an older Herald
 * are still picked up after an upgrade.
 */
const LEGACY_QUEUES: Record<string, string> = { deploy_token: 'deploy-token' }

export function createJobRegistry(definitions: readonly AnyJobDefinition[]): JobRegistry {
  const byName = new Map<string, RegisteredJob>()
  for (const definition of definitions) {
    if (byName.has(definition.name)) throw new Error(`Two job definitions are named "${definition.name}".`)
    const queue = LEGACY_QUEUES[definition.name] ?? `job-${definition.name}`
    const check = TypeCompiler.Compile(definition.input)
    byName.set(definition.name, {
      definition,
      queue,
      deadQueue: `${queue}-dead`,
      retries: definition.retries ?? DEFAULT_RETRIES,
      timeoutSeconds: definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      validate(input) {
        if (check.Check(input)) return definition.validate?.(input)
        const first = check.Errors(input).First()
        const path = first?.path ? `.${first.path.replace(/^\//, '').replaceAll('/', '.')}` : ''
        throw new HeraldError('INVALID_INPUT', `input${path}: ${first?.message ?? 'invalid'}`)
      },
    })
  }
  return { get: (type) => byName.get(type), all: () => [...byName.values()] }
}
