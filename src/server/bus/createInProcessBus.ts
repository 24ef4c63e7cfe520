import type { ErrorReporter } from '../errors'
import type { Bus, BusEvent, BusListener } from './types'

/** A single process: events go straight to this process's listeners, in publish order. */
export function createInProcessBus(onError: ErrorReporter): Bus {
  const listeners = new Set<BusListener>()
  return {
    kind: 'memory',
    async publish(event: BusEvent) {
      for (const listener of listeners) {
        try {
          listener.onEvent(event)
        } catch (error) {
          onError(error, `bus listener failed on ${event.kind}`)
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async start() {},
    async stop() {},
  }
}
