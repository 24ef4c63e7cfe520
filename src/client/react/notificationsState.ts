import {
  applyInboxCounts,
  applyInboxNotification,
  type InboxCounts,
  type InboxCountsState,
  initialInboxCounts,
  type ListNotificationsResponse,
  type Notification,
} from '../sdk'

// The state behind useNotifications(), as a pure reducer (tested without a DOM in notificationsState.test.ts).

export interface NotificationsState {
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
  /** Seen state learned locally or from inbox_state (reading marks seen too). */
  seenIds: ReadonlySet<string>
  seenAllThrough: number
  /** Archive changes learned locally or from inbox_state: id → archived. */
  archivedIds: ReadonlyMap<string, boolean>
  /** The archive (true) or the inbox (false): live notifications enter only the inbox. */
  archivedView: boolean
  /** The user's counts, kept equal to the server's (src/client/sdk/inboxCounts.ts). */
  counts: InboxCountsState
}

export type NotificationsAction =
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
  | { type: 'read'; ids: string[] | 'all'; upToSeq?: number; unreadCount?: number }
  | { type: 'seen'; ids: string[] | 'all'; upToSeq?: number }
  | { type: 'archived'; ids: string[]; archived: boolean }
  | { type: 'counts'; counts: InboxCounts }
  | { type: 'clear' }
  | { type: 'error'; error: string }

export const initialNotificationsState = (archivedView = false): NotificationsState => ({
  seenIds: new Set(),
  seenAllThrough: 0,
  archivedIds: new Map(),
  archivedView,
  counts: initialInboxCounts(),
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

const highestSeq = (state: NotificationsState) => Math.max(state.completeThrough, state.items[0]?.seq ?? 0)

/**
 * Newest first, each id once; `read` and `seen` win (nothing is ever marked unread or unseen again); only
 * the notifications of this view (inbox or archive) as far as this tab knows.
 */
function merge(state: NotificationsState, ...lists: Notification[][]): Notification[] {
  const byId = new Map<string, Notification>()
  for (const list of lists)
    for (const n of list) {
      if (n.seq <= state.clearedThrough) continue
      const before = byId.get(n.id)
      const read = n.read || before?.read || state.readIds.has(n.id) || n.seq <= state.readAllThrough || false
      const seen =
        read || n.seen || before?.seen || state.seenIds.has(n.id) || n.seq <= state.seenAllThrough || false
      const archived = state.archivedIds.get(n.id) ?? n.archived
      if (archived !== state.archivedView) continue
      byId.set(
        n.id,
        read === n.read && seen === n.seen && archived === n.archived ? n : { ...n, read, seen, archived },
      )
    }
  return [...byId.values()].sort((a, b) => b.seq - a.seq)
}

const visibleBefore = (state: NotificationsState, nextBefore: number | null) =>
  nextBefore !== null && nextBefore - 1 > state.clearedThrough ? nextBefore : null

export function notificationsReducer(
  state: NotificationsState,
  action: NotificationsAction,
): NotificationsState {
  switch (action.type) {
    case 'init':
      return initialNotificationsState(state.archivedView)
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
        ...(action.signedOut
          ? { ...initialNotificationsState(state.archivedView), syncRequested: state.syncRequested }
          : state),
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
      const counts = applyInboxNotification(state.counts, n)
      // New notifications are never archived: the archive only counts them.
      if (state.archivedView) return { ...state, counts }
      if (n.seq <= state.clearedThrough) return { ...state, counts }
      const known = state.items.some((item) => item.id === n.id)
      const items = merge(state, [n], state.items)
      const added = !known && !items.find((item) => item.id === n.id)?.read
      // Live delivery has no gaps; a seq beyond the next one means something was missed before it.
      const next = n.seq === state.completeThrough + 1
      return {
        ...state,
        items,
        counts,
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
      if (action.ids === 'all') readAllThrough = Math.max(readAllThrough, action.upToSeq ?? highestSeq(state))
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
    case 'seen': {
      const seenIds = action.ids === 'all' ? state.seenIds : new Set([...state.seenIds, ...action.ids])
      const seenAllThrough =
        action.ids === 'all'
          ? Math.max(state.seenAllThrough, action.upToSeq ?? highestSeq(state))
          : state.seenAllThrough
      const next = { ...state, seenIds, seenAllThrough }
      return { ...next, items: merge(next, state.items) }
    }
    case 'archived': {
      const archivedIds = new Map(state.archivedIds)
      for (const id of action.ids) archivedIds.set(id, action.archived)
      const next = { ...state, archivedIds }
      // One that enters this view was not loaded here: fetch the newest page again (merging).
      const enters = action.archived === state.archivedView
      return {
        ...next,
        items: merge(next, state.items),
        syncRequested: enters ? state.syncRequested + 1 : state.syncRequested,
      }
    }
    case 'counts':
      return { ...state, counts: applyInboxCounts(state.counts, action.counts) }
    case 'error':
      return { ...state, error: action.error }
  }
}
