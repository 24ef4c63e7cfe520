import { useCallback, useSyncExternalStore } from 'react'
import type { ConnectionState } from '../sdk'
import { useHeraldClient } from './useHeraldClient'

/**
 * The client's connection state: idle, connecting, authenticating, connected, reconnecting or closed (then
 * `useHeraldClient().closedReason` says why).
 */
export function useConnectionState(): ConnectionState {
  const client = useHeraldClient()
  const subscribe = useCallback((onChange: () => void) => client.on('state', onChange), [client])
  const read = () => client.state
  return useSyncExternalStore(subscribe, read, read)
}
