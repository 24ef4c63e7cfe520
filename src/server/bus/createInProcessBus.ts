import type { ErrorReporter } from '../errors'
import type { Bus, BusEvent, BusListener } from './types'

const DONE: Promise<void> = Promise.resolve()

/** A single process: events go straight to this process's listeners, in publish order. */
export function createInProcessBus(onError: ErrorReporter): Bus {
  const listeners = new Set<BusListener>()
  // Not async: a send on one process is then a plain call, with one shared settled promise to await.
  const publish = (event: BusEvent) => {
    for (const listener of listeners) {
      try {
        listener.onEvent(event)
      } catch (error) {
        onError(error, `bus listener failed on ${event.kind}`)
      }
    }
    return DONE
  }
  return {
    kind: 'memory',
    publish,
    // Delivery here cannot fail as a whole: each listener's failure is already reported.
    announceCommitted: publish,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async start() {},
    async stop() {},
  }
}
