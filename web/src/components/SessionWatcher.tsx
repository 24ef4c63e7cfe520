import { useEffect } from 'react'
import { useConnectionState, useHeraldClient } from '../../../src/client/react'
import type { WsErrorCode } from '../../../src/shared/protocol/codes'
import { useApp } from '../AppContext'

/** The socket stopped because the server refused the session (revoked, or past its end): sign out locally. */
export function SessionWatcher() {
  const client = useHeraldClient()
  const state = useConnectionState()
  const { sessionEnded } = useApp()
  useEffect(() => {
    if (state === 'closed' && client.closedReason?.code === ('UNAUTHORIZED' satisfies WsErrorCode))
      sessionEnded()
  }, [state, client, sessionEnded])
  return null
}
