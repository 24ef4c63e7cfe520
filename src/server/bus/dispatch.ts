import type { ErrorReporter } from '../errors'
import type { BusEvent, BusListener } from './types'

/** Hands an event to every listener; one listener's failure is reported and does not stop the others. */
export function dispatch(listeners: Iterable<BusListener>, event: BusEvent, onError: ErrorReporter): void {
  for (const listener of listeners) {
    try {
      listener.onEvent(event)
    } catch (error) {
      onError(error, `bus listener failed on ${event.kind}`)
    }
  }
}
