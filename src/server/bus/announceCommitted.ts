import type { ErrorReporter } from '../errors'
import type { BusEvent } from './types'

/**
 * Bus.announceCommitted for a bus whose `publish` can fail: the same publish, with a failure reported (what
 * was stored, and for whom) instead of rejected.
 */
export function announceCommitted(
  publish: (event: BusEvent) => Promise<void>,
  onError: ErrorReporter,
): (event: BusEvent) => Promise<void> {
  return (event) =>
    publish(event).catch((error) => {
      const whom = 'userId' in event ? ` for user ${event.userId}` : ''
      const what =
        event.kind === 'notification'
          ? `notification seq ${event.notification.seq} (stored)`
          : `${event.kind} event`
      onError(
        error,
        `announcing ${what}${whom} after its commit failed; the hub fills the gap at the next notification or a resume`,
      )
    })
}
