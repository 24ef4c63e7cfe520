import type { ErrorReporter } from '../errors'

/**
 * The parts a server started, to stop in reverse order. Each step runs even when an earlier one failed: a
 * half-stopped process must still release its database. `stop` is idempotent: every call gets the same run.
 */
export function createShutdownList(onError: ErrorReporter) {
  const steps: { what: string; stop: () => unknown }[] = []
  let stopping: Promise<void> | null = null
  return {
    /** Registers a part's stop; parts added later stop earlier. */
    add(what: string, stop: () => unknown): void {
      steps.push({ what, stop })
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        for (const { what, stop } of [...steps].reverse()) {
          try {
            await stop()
          } catch (error) {
            onError(error, `stopping: ${what}`)
          }
        }
      })()
      return stopping
    },
  }
}
