import type { ConnectionState } from '../../sdk'
import { useConnectionState } from '../useConnectionState'
import { useHeraldClient } from '../useHeraldClient'

const LABELS: Record<ConnectionState, string> = {
  idle: 'Offline',
  connecting: 'Connecting…',
  authenticating: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
}

/** A dot and a word for the live connection; when it stopped for good, the reason is in the title. */
export function ConnectionStatus({ className }: { className?: string }) {
  const client = useHeraldClient()
  const state = useConnectionState()
  const tone = state === 'connected' ? 'ok' : state === 'closed' || state === 'idle' ? 'down' : 'pending'
  return (
    <span
      className={`herald-connection herald-connection--${tone}${className ? ` ${className}` : ''}`}
      role="status"
      title={
        state === 'closed' ? (client.closedReason?.message ?? LABELS.closed) : `Real-time: ${LABELS[state]}`
      }
      data-testid="connection-state"
      data-state={state}
    >
      <span className="herald-connection__dot" aria-hidden="true" />
      <span className="herald-connection__text">{LABELS[state]}</span>
    </span>
  )
}
