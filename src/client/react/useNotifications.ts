import { useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState } from 'react'
import { type ConnectionState, HeraldApiError, type HeraldClient, type Notification } from '../sdk'
import { initialNotificationsState, notificationsReducer } from './notificationsState'
import { useConnectionState } from './useConnectionState'
import { useHeraldClient } from './useHeraldClient'

export interface UseNotificationsOptions {
  /** Notifications per HTTP page (1–100, default 20). */
  pageSize?: number
}

export interface UseNotificationsResult {
  /** Newest first; stored ones from HTTP, live ones prepended, each id once. */
  notifications: Notification[]
  /** The server's count of unread notifications (all of them, not only the loaded ones). */
  unreadCount: number
  /** Marks one read on the server; every tab of the user follows through `read_state`. */
  markAsRead: (id: string) => Promise<void>
  markAllAsRead: () => Promise<void>
  /**
   * Marks everything read on the server and empties this list view. Nothing is deleted: Herald keeps every
   * notification, so after a reload (or in another tab) the history is back, all read. Notifications that
   * arrive afterwards appear as usual.
   */
  clearAll: () => Promise<void>
  /** Loads the next older page. */
  loadMore: () => Promise<void>
  hasMore: boolean
  /** The first page is on its way (false once it arrived, also during later background refreshes). */
  loading: boolean
  loadingMore: boolean
  /** The last failed HTTP call's message; cleared by the next success. */
  error: string | null
  /** Fetches the newest page again (merging, so nothing loaded is lost). */
  refresh: () => void
  connectionState: ConnectionState
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))
const isSignedOut = (error: unknown) => error instanceof HeraldApiError && error.status === 401

/**
 * The signed-in user's notifications, backed by the server: the first page over HTTP, live ones from the
 * socket, read state from `read_state` (the same in every tab, and stored, so it survives reloads). After a
 * reconnection, a `reset` or a detected gap the newest page is fetched again and merged.
 */
export function useNotifications(options: UseNotificationsOptions = {}): UseNotificationsResult {
  const client = useHeraldClient()
  const connectionState = useConnectionState()
  const pageSize = Math.min(100, Math.max(1, options.pageSize ?? 20))
  const [state, dispatch] = useReducer(notificationsReducer, undefined, initialNotificationsState)
  const stateRef = useRef(state)
  useLayoutEffect(() => {
    stateRef.current = state
  })

  // A new client (another user, or signed out): start over.
  const [owner, setOwner] = useState<HeraldClient>(client)
  if (owner !== client) {
    setOwner(client)
    dispatch({ type: 'init' })
  }
  const current = useRef(client)
  useLayoutEffect(() => {
    current.current = client
  })

  useEffect(() => {
    const offs = [
      client.on('notification', (notification) => dispatch({ type: 'live', notification })),
      client.on('read_state', (message) =>
        dispatch({ type: 'read', ids: message.ids, unreadCount: message.unreadCount }),
      ),
      // Missed read_state while away, or more missed than the server replays: fetch the newest page again.
      client.on('resumed', () => dispatch({ type: 'resumed' })),
      client.on('reset', () => dispatch({ type: 'resumed' })),
    ]
    return () => {
      for (const off of offs) off()
    }
  }, [client])

  // One request at a time per client; a sync asked for meanwhile runs when it is answered.
  const { syncRequested, syncDone } = state
  const inFlight = useRef<HeraldClient | null>(null)
  useEffect(() => {
    if (syncRequested <= syncDone || owner !== client || inFlight.current === client) return
    inFlight.current = client
    const request = syncRequested
    dispatch({ type: 'loading' })
    const done = () => {
      if (inFlight.current === client) inFlight.current = null
      return current.current === client
    }
    client.api.notifications.list({ limit: pageSize }).then(
      (response) => {
        if (done()) dispatch({ type: 'page', response, request })
      },
      (error) => {
        if (!done()) return
        const signedOut = isSignedOut(error)
        dispatch({ type: 'pageFailed', request, signedOut, error: signedOut ? null : messageOf(error) })
      },
    )
  }, [syncRequested, syncDone, owner, client, pageSize])

  const markAsRead = useCallback(
    async (id: string) => {
      dispatch({ type: 'read', ids: [id] })
      try {
        await client.api.notifications.markRead(id)
      } catch (error) {
        dispatch({ type: 'error', error: messageOf(error) })
        dispatch({ type: 'sync' })
      }
    },
    [client],
  )

  const markAllAsRead = useCallback(async () => {
    dispatch({ type: 'read', ids: 'all' })
    try {
      await client.api.notifications.markAllRead()
    } catch (error) {
      dispatch({ type: 'error', error: messageOf(error) })
      dispatch({ type: 'sync' })
    }
  }, [client])

  const clearAll = useCallback(async () => {
    dispatch({ type: 'clear' })
    try {
      await client.api.notifications.markAllRead()
    } catch (error) {
      dispatch({ type: 'error', error: messageOf(error) })
    }
  }, [client])

  const loadMore = useCallback(async () => {
    const { nextBefore, loadingMore } = stateRef.current
    if (nextBefore === null || loadingMore) return
    dispatch({ type: 'loadingMore' })
    try {
      const response = await client.api.notifications.list({ limit: pageSize, before: nextBefore })
      if (current.current === client) dispatch({ type: 'more', response })
    } catch (error) {
      if (current.current === client) dispatch({ type: 'moreFailed', error: messageOf(error) })
    }
  }, [client, pageSize])

  const refresh = useCallback(() => dispatch({ type: 'sync' }), [])

  return {
    notifications: state.items,
    unreadCount: state.unreadCount,
    markAsRead,
    markAllAsRead,
    clearAll,
    loadMore,
    hasMore: state.nextBefore !== null,
    loading: state.loading,
    loadingMore: state.loadingMore,
    error: state.error,
    refresh,
    connectionState,
  }
}
