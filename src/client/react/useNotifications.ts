import { useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState } from 'react'
import {
  type ConnectionState,
  HeraldApiError,
  type HeraldClient,
  type InboxCounts,
  inboxCountsOf,
  type Notification,
} from '../sdk'
import { initialNotificationsState, notificationsReducer } from './notificationsState'
import { useConnectionState } from './useConnectionState'
import { useHeraldClient } from './useHeraldClient'

export interface UseNotificationsOptions {
  /** Notifications per HTTP page (1–100, default 20). */
  pageSize?: number
  /** The archive instead of the inbox (docs/protocol.md §7). */
  archived?: boolean
}

export interface UseNotificationsResult {
  /** Newest first; stored ones from HTTP, live ones prepended, each id once. */
  notifications: Notification[]
  /**
   * The server's count of unread notifications in the inbox (all of them, not only the loaded ones; the
   * archive's are not counted), equal in every tab: computed by the server with each change.
   */
  unreadCount: number
  /** The same for unseen ones: what a bell's badge shows; opening the list marks them seen. */
  unseenCount: number
  /** Marks every notification up to the newest this tab knows seen (opening the list). */
  markAllAsSeen: () => Promise<void>
  archive: (id: string) => Promise<void>
  unarchive: (id: string) => Promise<void>
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
  const archived = options.archived ?? false
  const [state, dispatch] = useReducer(notificationsReducer, archived, initialNotificationsState)
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
      client.on('read_state', (message) => {
        dispatch({ type: 'read', ids: message.ids, upToSeq: message.upToSeq })
        dispatch({ type: 'counts', counts: message })
      }),
      client.on('inbox_state', (message) => {
        if (message.seen) dispatch({ type: 'seen', ids: message.ids, upToSeq: message.upToSeq })
        if (message.archived !== undefined && message.ids !== 'all')
          dispatch({ type: 'archived', ids: message.ids, archived: message.archived })
        dispatch({ type: 'counts', counts: message })
      }),
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
    // The counts with the seq and version they stand at; the list's own counts have neither.
    client.api.notifications.unreadCount().then(
      (counts) => {
        if (current.current === client) dispatch({ type: 'counts', counts })
      },
      () => {},
    )
    client.api.notifications.list({ limit: pageSize, archived }).then(
      (response) => {
        if (done()) dispatch({ type: 'page', response, request })
      },
      (error) => {
        if (!done()) return
        const signedOut = isSignedOut(error)
        dispatch({ type: 'pageFailed', request, signedOut, error: signedOut ? null : messageOf(error) })
      },
    )
  }, [syncRequested, syncDone, owner, client, pageSize, archived])

  /** A change's answer carries the counts too: applied at once (the socket's copy is then skipped). */
  const change = useCallback(
    async (call: () => Promise<InboxCounts>) => {
      try {
        const counts = await call()
        if (current.current === client) dispatch({ type: 'counts', counts })
      } catch (error) {
        dispatch({ type: 'error', error: messageOf(error) })
        dispatch({ type: 'sync' })
      }
    },
    [client],
  )

  const markAllAsSeen = useCallback(async () => {
    const { items, completeThrough } = stateRef.current
    const upToSeq = Math.max(completeThrough, items[0]?.seq ?? 0)
    if (upToSeq === 0 || (inboxCountsOf(stateRef.current.counts)?.unseenCount ?? 1) === 0) return
    dispatch({ type: 'seen', ids: 'all', upToSeq })
    await change(() => client.api.notifications.markSeen({ upToSeq }))
  }, [client, change])

  const archive = useCallback(
    async (id: string) => {
      dispatch({ type: 'archived', ids: [id], archived: true })
      await change(() => client.api.notifications.archive(id))
    },
    [client, change],
  )

  const unarchive = useCallback(
    async (id: string) => {
      dispatch({ type: 'archived', ids: [id], archived: false })
      await change(() => client.api.notifications.unarchive(id))
    },
    [client, change],
  )

  const markAsRead = useCallback(
    async (id: string) => {
      dispatch({ type: 'read', ids: [id] })
      await change(() => client.api.notifications.markRead(id))
    },
    [client, change],
  )

  const markAllAsRead = useCallback(async () => {
    dispatch({ type: 'read', ids: 'all' })
    await change(() => client.api.notifications.markAllRead())
  }, [client, change])

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
      const response = await client.api.notifications.list({ limit: pageSize, before: nextBefore, archived })
      if (current.current === client) dispatch({ type: 'more', response })
    } catch (error) {
      if (current.current === client) dispatch({ type: 'moreFailed', error: messageOf(error) })
    }
  }, [client, pageSize, archived])

  const refresh = useCallback(() => dispatch({ type: 'sync' }), [])

  const counts = inboxCountsOf(state.counts)
  return {
    notifications: state.items,
    unreadCount: counts?.unreadCount ?? state.unreadCount,
    unseenCount: counts?.unseenCount ?? 0,
    markAllAsSeen,
    archive,
    unarchive,
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
