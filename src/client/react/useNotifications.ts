import { useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState } from 'react'
import {
  type ConnectionState,
  HeraldApiError,
  type HeraldClient,
  type ListNotificationsResponse,
  type Notification,
} from '../sdk'
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

interface State {
  items: Notification[]
  unreadCount: number
  /** `before` for the next older page; null when everything older is loaded (or hidden by clearAll). */
  nextBefore: number | null
  /** A first page has been answered (or we learned we are signed out). */
  fetched: boolean
  loading: boolean
  loadingMore: boolean
  error: string | null
  /** Every notification from the oldest loaded one up to this seq is in `items` (seqs have no gaps). */
  completeThrough: number
  /** Fetch the newest page when syncRequested > syncDone: at start, after every (re)connection, on a gap. */
  syncRequested: number
  syncDone: number
  /** The sync asked for because a page left a gap below live ones (asked once, so a confused server cannot loop us). */
  gapSync: number
  /** Read state learned locally or from read_state, applied to pages that were on their way meanwhile. */
  readIds: ReadonlySet<string>
  readAllThrough: number
  /** clearAll(): seqs up to here are hidden from this view. */
  clearedThrough: number
}

type Action =
  | { type: 'init' }
  | { type: 'loading' }
  | { type: 'page'; response: ListNotificationsResponse; request: number }
  | { type: 'pageFailed'; request: number; error: string | null; signedOut: boolean }
  | { type: 'loadingMore' }
  | { type: 'more'; response: ListNotificationsResponse }
  | { type: 'moreFailed'; error: string }
  | { type: 'live'; notification: Notification }
  | { type: 'resumed' }
  | { type: 'sync' }
  | { type: 'read'; ids: string[] | 'all'; unreadCount?: number }
  | { type: 'clear' }
  | { type: 'error'; error: string }

const initialState = (): State => ({
  items: [],
  unreadCount: 0,
  nextBefore: null,
  fetched: false,
  loading: true,
  loadingMore: false,
  error: null,
  completeThrough: 0,
  syncRequested: 1,
  syncDone: 0,
  gapSync: 0,
  readIds: new Set(),
  readAllThrough: 0,
  clearedThrough: 0,
})

const highestSeq = (state: State) => Math.max(state.completeThrough, state.items[0]?.seq ?? 0)

/** Newest first, each id once; `read` wins (nothing is ever marked unread again). */
function merge(state: State, ...lists: Notification[][]): Notification[] {
  const byId = new Map<string, Notification>()
  for (const list of lists)
    for (const n of list) {
      if (n.seq <= state.clearedThrough) continue
      const seen = byId.get(n.id)
      const read = n.read || seen?.read || state.readIds.has(n.id) || n.seq <= state.readAllThrough || false
      byId.set(n.id, read === n.read ? n : { ...n, read })
    }
  return [...byId.values()].sort((a, b) => b.seq - a.seq)
}

const visibleBefore = (state: State, nextBefore: number | null) =>
  nextBefore !== null && nextBefore - 1 > state.clearedThrough ? nextBefore : null

function reducer(state: State, action: Action): State {
  switch (action.type) {
    case 'init':
      return initialState()
    case 'loading':
      return { ...state, loading: !state.fetched }
    case 'page': {
      const page = action.response.notifications
      const top = page[0]?.seq ?? 0
      const oldest = page.at(-1)?.seq ?? 1
      // Arrived live while the request was out: newer than anything the server had when it answered.
      const newer = state.items.filter((n) => n.seq > top)
      // Older pages already loaded stay when this page reaches them (no hole between the two).
      const keepOlder =
        state.fetched && action.response.nextBefore !== null && oldest <= state.completeThrough + 1
      const older = keepOlder ? state.items.filter((n) => n.seq < oldest) : []
      const items = merge(state, newer, page, older)
      let completeThrough = top
      for (const n of [...newer].sort((a, b) => a.seq - b.seq))
        if (n.seq === completeThrough + 1) completeThrough++
      const gap =
        newer.some((n) => n.seq > completeThrough) &&
        action.request === state.syncRequested &&
        action.request !== state.gapSync
      return {
        ...state,
        items,
        syncRequested: gap ? state.syncRequested + 1 : state.syncRequested,
        gapSync: gap ? state.syncRequested + 1 : state.gapSync,
        unreadCount: action.response.unreadCount + newer.filter((n) => !n.read).length,
        nextBefore: visibleBefore(state, keepOlder ? state.nextBefore : action.response.nextBefore),
        fetched: true,
        loading: false,
        error: null,
        completeThrough,
        syncDone: Math.max(state.syncDone, action.request),
      }
    }
    case 'pageFailed':
      return {
        ...(action.signedOut ? { ...initialState(), syncRequested: state.syncRequested } : state),
        fetched: true,
        loading: false,
        error: action.error,
        syncDone: Math.max(state.syncDone, action.request),
      }
    case 'loadingMore':
      return { ...state, loadingMore: true }
    case 'more':
      return {
        ...state,
        items: merge(state, state.items, action.response.notifications),
        nextBefore: visibleBefore(state, action.response.nextBefore),
        loadingMore: false,
        error: null,
      }
    case 'moreFailed':
      return { ...state, loadingMore: false, error: action.error }
    case 'live': {
      const n = action.notification
      if (n.seq <= state.clearedThrough) return state
      const known = state.items.some((item) => item.id === n.id)
      const items = merge(state, [n], state.items)
      const added = !known && !items.find((item) => item.id === n.id)?.read
      // Live delivery has no gaps; a seq beyond the next one means something was missed before it.
      const next = n.seq === state.completeThrough + 1
      return {
        ...state,
        items,
        unreadCount: state.unreadCount + (added ? 1 : 0),
        completeThrough: next ? n.seq : state.completeThrough,
        syncRequested:
          state.fetched && n.seq > state.completeThrough + 1 ? state.syncRequested + 1 : state.syncRequested,
      }
    }
    case 'resumed':
    case 'sync':
      return { ...state, syncRequested: state.syncRequested + 1 }
    case 'read': {
      let { readIds, readAllThrough } = state
      if (action.ids === 'all') readAllThrough = Math.max(readAllThrough, highestSeq(state))
      else readIds = new Set([...readIds, ...action.ids])
      const next = { ...state, readIds, readAllThrough }
      const items = merge(next, state.items)
      const wasUnread = new Set(state.items.filter((n) => !n.read).map((n) => n.id))
      const newlyRead = items.filter((n) => n.read && wasUnread.has(n.id)).length
      return {
        ...next,
        items,
        unreadCount:
          action.unreadCount ?? (action.ids === 'all' ? 0 : Math.max(0, state.unreadCount - newlyRead)),
      }
    }
    case 'clear': {
      const through = highestSeq(state)
      return {
        ...state,
        items: [],
        nextBefore: null,
        unreadCount: 0,
        readAllThrough: Math.max(state.readAllThrough, through),
        clearedThrough: Math.max(state.clearedThrough, through),
      }
    }
    case 'error':
      return { ...state, error: action.error }
  }
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
  const [state, dispatch] = useReducer(reducer, undefined, initialState)
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
