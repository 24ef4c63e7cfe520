import { useCallback, useEffect, useLayoutEffect, useRef } from 'react'
import type { BroadcastMessage, ConnectionState, ServerMessage } from '../sdk'
import { useConnectionState } from './useConnectionState'
import { useHeraldClient } from './useHeraldClient'

export type HeraldMessage = ServerMessage | BroadcastMessage

export interface UseWebSocketResult {
  connectionState: ConnectionState
  /** Sends a message on the open socket (dropped while it is not open). */
  send: (message: { type: string; [key: string]: unknown }) => void
}

/**
 * The original design's hook: `onMessage` is called for every message the server sends (the latest function
 * you pass is used; it need not be memoised). The socket itself is the provider's one shared client.
 */
export function useWebSocket(onMessage?: (message: HeraldMessage) => void): UseWebSocketResult {
  const client = useHeraldClient()
  const connectionState = useConnectionState()
  const handler = useRef(onMessage)
  useLayoutEffect(() => {
    handler.current = onMessage
  })
  useEffect(() => client.on('message', (message) => handler.current?.(message)), [client])
  const send = useCallback<UseWebSocketResult['send']>((message) => client.send(message), [client])
  return { connectionState, send }
}
