import type { BusEvent } from './types'

/** The error context of an announcement that failed after its data committed: what was stored, and for whom. */
export function announceFailed(event: BusEvent): string {
  const whom = 'userId' in event ? ` for user ${event.userId}` : ''
  const what =
    event.kind === 'notification'
      ? `notification seq ${event.notification.seq} (stored)`
      : `${event.kind} event`
  return `announcing ${what}${whom} after its commit failed; the hub fills the gap at the next notification or a resume`
}
