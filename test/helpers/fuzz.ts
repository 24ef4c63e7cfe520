import { heapStats } from 'bun:jsc'
import fc from 'fast-check'
import { AlternativeErrorStatus, ErrorStatus } from '../../src/server/errors'
import { CloseCode, WsErrorCodes } from '../../src/shared/protocol'

/**
 * The seed of this run: HERALD_FUZZ_SEED replays a failure exactly; otherwise a fresh one each run, so CI
 * keeps exploring. Printed with every failure.
 */
export function fuzzSeed(): number {
  const fixed = process.env.HERALD_FUZZ_SEED
  if (fixed !== undefined && fixed !== '') {
    const seed = Number(fixed)
    if (!Number.isInteger(seed)) throw new Error(`HERALD_FUZZ_SEED must be an integer, got ${fixed}`)
    return seed
  }
  return (Math.random() * 2 ** 31) | 0
}

export interface FuzzOptions {
  numRuns: number
  /** Stops generating new cases after this long (a pass, not a failure): the run time stays bounded. */
  timeLimitMs: number
  seed?: number
}

/**
 * Runs an async property with fast-check and throws a readable failure naming the seed to replay it with.
 * Returns how many cases ran, so a test can prove it did real work before the time limit.
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<Ts>,
  options: FuzzOptions,
): Promise<{ numRuns: number; seed: number }> {
  const seed = options.seed ?? fuzzSeed()
  const details = await fc.check(property, {
    seed,
    numRuns: options.numRuns,
    interruptAfterTimeLimit: options.timeLimitMs,
    markInterruptAsFailure: false,
    // Shrinking a failure against a live server is slow; a bounded amount still gives a small input.
    endOnFailure: false,
  })
  if (details.failed) {
    const error = details.errorInstance
    const counterexample = details.counterexample
      ? fc.stringify(details.counterexample).slice(0, 4000)
      : '(none)'
    throw new Error(
      `${name} failed after ${details.numRuns} runs. Replay with HERALD_FUZZ_SEED=${details.seed}` +
        ` (path ${details.counterexamplePath}).\nCounterexample: ${counterexample}\n` +
        `Failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    )
  }
  return { numRuns: details.numRuns, seed: details.seed }
}

/**
 * The contract's HTTP error (docs/protocol.md §1 and §3): exactly `{"error":{"code","message"}}` as JSON, a
 * code from the one table whose status is the response's, and Retry-After on 429. Returns what is wrong, or
 * null.
 */
export function contractErrorProblem(status: number, headers: Headers, text: string): string | null {
  if (!(headers.get('content-type') ?? '').startsWith('application/json'))
    return `content-type ${headers.get('content-type')}`
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return `body is not JSON: ${text.slice(0, 200)}`
  }
  if (typeof body !== 'object' || body === null || Object.keys(body).join() !== 'error')
    return `body is not {error}: ${text.slice(0, 200)}`
  const error = (body as { error: unknown }).error
  if (typeof error !== 'object' || error === null || Object.keys(error).sort().join() !== 'code,message')
    return `error is not {code, message}: ${text.slice(0, 200)}`
  const { code, message } = error as { code: unknown; message: unknown }
  if (typeof code !== 'string' || !(code in ErrorStatus)) return `unknown code ${String(code)}`
  const alternative = (AlternativeErrorStatus as Record<string, number>)[code]
  if (ErrorStatus[code as keyof typeof ErrorStatus] !== status && alternative !== status)
    return `code ${code} with status ${status}`
  if (typeof message !== 'string' || message.length < 5) return `message ${JSON.stringify(message)}`
  if (status === 429 && !/^[1-9][0-9]*$/.test(headers.get('retry-after') ?? ''))
    return `429 without a whole-second Retry-After (${headers.get('retry-after')})`
  return null
}

export const CONTRACT_CLOSE_CODES: ReadonlySet<number> = new Set(Object.values(CloseCode))
export const CONTRACT_WS_ERROR_CODES: ReadonlySet<string> = new Set(WsErrorCodes)

/**
 * Collects unhandled promise rejections while a test runs; a server bug in an async path shows up here even
 * when every reply looked right.
 */
export function watchUnhandledRejections(): { rejections: unknown[]; stop(): void } {
  const rejections: unknown[] = []
  const onRejection = (reason: unknown) => {
    rejections.push(reason)
  }
  process.on('unhandledRejection', onRejection)
  return { rejections, stop: () => process.off('unhandledRejection', onRejection) }
}

export interface MemorySample {
  /** JavaScript heap in use after a full collection (the server runs in the test process). */
  heapBytes: number
  rssBytes: number
}

/** Memory after full collections; several passes, so objects freed by finalizers of the first go too. */
export async function settledMemory(): Promise<MemorySample> {
  for (let i = 0; i < 3; i++) {
    Bun.gc(true)
    await Bun.sleep(20)
  }
  return { heapBytes: heapStats().heapSize, rssBytes: process.memoryUsage().rss }
}

export const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
