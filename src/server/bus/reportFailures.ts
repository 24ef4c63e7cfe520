import type { ErrorReporter } from '../errors'
import type { BusEvent } from './types'

/**
 * Bus.announce for a bus whose sending can fail: the same send, with a failure reported (what was announced,
 * and for whom) instead of rejected.
 */
export function reportFailures(
  send: (event: BusEvent) => Promise<void>,
  onError: ErrorReporter,
): (event: BusEvent) => Promise<void> {
  return (event) =>
    send(event).catch((error) => {
      const what =
        event.kind === 'item'
          ? `${event.stream} item seq ${event.item.seq} of ${event.key} (stored)`
          : event.kind === 'broadcast'
            ? 'a broadcast'
            : event.kind === 'presence'
              ? `presence ${event.op} of ${event.source} (corrected by the next snapshot)`
              : event.kind === 'holder_check'
                ? `a holders' re-check of ${event.address} in ${event.token} (done within a minute anyway)`
                : `a ${event.kind} event for user ${event.userId}`
      onError(
        error,
        `announcing ${what} failed; stored items are delivered by gap filling at the stream's next item or by a resume`,
      )
    })
}
