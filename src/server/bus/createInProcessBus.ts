import type { ErrorReporter } from '../errors'
import { dispatch } from './dispatch'
import type { Bus, BusEvent, BusListener } from './types'

const DONE: Promise<void> = Promise.resolve()

/** A single process: events go straight to this process's listeners, in the order they are announced. */
export function createInProcessBus(onError: ErrorReporter): Bus {
  const listeners = new Set<BusListener>()
  return {
    kind: 'memory',
    notifyChannel: null,
    // Not async: an announcement on one process is then a plain call, with one shared settled promise to
    // await. It cannot fail as a whole: each listener's failure is reported by dispatch.
    announce(event: BusEvent) {
      dispatch(listeners, event, onError)
      return DONE
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async start() {},
    async stop() {},
  }
}
