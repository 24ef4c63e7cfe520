import { writeFileSync } from 'node:fs'
import type { Notification, Transfer } from '../../src/shared/protocol'
import type { TestSocket } from './wsClient'

/**
 * What the recipient saw, with the chain's steps between, stamped with the time they happened. Written to
 * HERALD_RECORD_TIMELINE when it is set: scripts/chain-timeline.ts draws docs/chain-timeline.svg from it.
 */
export function recordTimeline(socket: TestSocket) {
  const started = performance.now()
  const at = () => Math.round(performance.now() - started)
  const events: Record<string, unknown>[] = []
  socket.ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { type: string; [key: string]: unknown }
    if (message.type === 'data_update' && message.entity === 'transfer') {
      const transfer = message.data as Transfer
      events.push({
        t: at(),
        kind: 'update',
        action: message.action,
        status: transfer.status,
        confirmations: transfer.confirmations,
        block: transfer.blockNumber,
      })
    } else if (message.type === 'notification') {
      const notification = (message as unknown as { notification: Notification }).notification
      events.push({ t: at(), kind: 'notification', type: notification.type, title: notification.title })
    }
  })
  return {
    chain(label: string, block: number) {
      events.push({ t: at(), kind: 'chain', label, block })
    },
    save(meta: Record<string, unknown>) {
      const path = process.env.HERALD_RECORD_TIMELINE
      if (path) writeFileSync(path, `${JSON.stringify({ ...meta, events }, null, 2)}\n`)
    },
  }
}
