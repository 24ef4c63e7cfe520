import type { Notification } from '../../shared/protocol'
import type { Bus } from '../bus/types'

/**
 * Announces committed notifications on a bus that could not take part in their statement (in-process,
 * Redis). Every publish is started before any is awaited: they leave in this order, which is seq order per
 * user, without a round trip between two of them. Never rejects (Bus.announceCommitted).
 */
export async function publishStored(
  bus: Bus,
  stored: readonly { userId: string; notification: Notification | null }[],
): Promise<void> {
  const sent: Promise<void>[] = []
  for (const { userId, notification } of stored) {
    if (notification) sent.push(bus.announceCommitted({ kind: 'notification', userId, notification }))
  }
  await Promise.all(sent)
}
