import { describe, expect, test } from 'bun:test'
import type { ListNotificationsResponse, Notification } from '../sdk'
import {
  initialNotificationsState,
  type NotificationsAction,
  type NotificationsState,
  notificationsReducer,
} from './notificationsState'

// The reducer behind useNotifications(): merging HTTP pages with live notifications and read state. The hook's
// wiring to a real server is covered end to end in the browser tests.

const n = (seq: number, read = false): Notification => ({
  id: String(seq * 10),
  seq,
  type: 'demo',
  title: `#${seq}`,
  message: '',
  data: null,
  createdAt: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
  read,
  seen: read,
  archived: false,
  critical: false,
})
/** The newest `limit` of seqs 1..top, as GET /api/notifications answers. */
const page = (top: number, limit: number, unreadCount: number, readUpTo = 0): ListNotificationsResponse => {
  const notifications: Notification[] = []
  for (let seq = top; seq > Math.max(0, top - limit); seq--) notifications.push(n(seq, seq <= readUpTo))
  const oldest = notifications.at(-1)?.seq ?? 1
  return { notifications, nextBefore: oldest > 1 ? oldest : null, unreadCount, unseenCount: unreadCount }
}
const run = (...actions: NotificationsAction[]) =>
  actions.reduce<NotificationsState>(notificationsReducer, initialNotificationsState())
const seqs = (s: NotificationsState) => s.items.map((i) => i.seq)

describe('notificationsReducer', () => {
  test('the first page: items newest first, unread count and the next page', () => {
    const s = run({ type: 'loading' }, { type: 'page', response: page(30, 20, 7), request: 1 })
    expect(seqs(s)).toEqual(Array.from({ length: 20 }, (_, i) => 30 - i))
    expect(s.unreadCount).toBe(7)
    expect(s.nextBefore).toBe(11)
    expect(s.loading).toBe(false)
    expect(s.syncRequested).toBe(s.syncDone)
  })

  test('live ones are prepended once, counted once', () => {
    const s = run(
      { type: 'page', response: page(3, 20, 1), request: 1 },
      { type: 'live', notification: n(4) },
      { type: 'live', notification: n(4) },
    )
    expect(seqs(s)).toEqual([4, 3, 2, 1])
    expect(s.unreadCount).toBe(2)
    expect(s.syncRequested).toBe(s.syncDone)
  })

  test('a live one that arrived while the first page was on its way is kept and counted', () => {
    const s = run(
      { type: 'live', notification: n(6) },
      { type: 'page', response: page(5, 20, 2), request: 1 },
    )
    expect(seqs(s)).toEqual([6, 5, 4, 3, 2, 1])
    expect(s.unreadCount).toBe(3)
    expect(s.completeThrough).toBe(6)
  })

  test('a gap before a live one asks for the newest page again', () => {
    const s = run(
      { type: 'page', response: page(5, 20, 0), request: 1 },
      { type: 'live', notification: n(8) },
    )
    expect(s.syncRequested).toBe(s.syncDone + 1)
    const after = notificationsReducer(s, {
      type: 'page',
      response: page(8, 20, 3),
      request: s.syncRequested,
    })
    expect(seqs(after)).toEqual([8, 7, 6, 5, 4, 3, 2, 1])
    expect(after.unreadCount).toBe(3)
    expect(after.syncRequested).toBe(after.syncDone)
  })

  test('a page that leaves a gap below live ones asks once more, then stops', () => {
    // Live 9 arrived while a page answered up to 5 (the SDK started later than the page was read).
    const s = run(
      { type: 'live', notification: n(9) },
      { type: 'page', response: page(5, 20, 0), request: 1 },
    )
    expect(s.syncRequested).toBe(2)
    const again = notificationsReducer(s, { type: 'page', response: page(5, 20, 0), request: 2 })
    expect(again.syncRequested).toBe(again.syncDone)
  })

  test('read_state applies to loaded ones and to a page that was already on its way', () => {
    let s = run({ type: 'page', response: page(3, 20, 3), request: 1 })
    s = notificationsReducer(s, { type: 'read', ids: ['20'], unreadCount: 2 })
    expect(s.items.find((i) => i.seq === 2)?.read).toBe(true)
    expect(s.unreadCount).toBe(2)
    // A stale page (read before the change) does not bring the unread state back.
    s = notificationsReducer(s, { type: 'sync' })
    s = notificationsReducer(s, { type: 'page', response: page(3, 20, 3), request: s.syncRequested })
    expect(s.items.find((i) => i.seq === 2)?.read).toBe(true)
  })

  test('read "all" marks everything loaded read; later live ones stay unread', () => {
    let s = run(
      { type: 'page', response: page(4, 20, 4), request: 1 },
      { type: 'read', ids: 'all', unreadCount: 0 },
    )
    expect(s.items.every((i) => i.read)).toBe(true)
    expect(s.unreadCount).toBe(0)
    s = notificationsReducer(s, { type: 'live', notification: n(5) })
    expect(s.items[0]?.read).toBe(false)
    expect(s.unreadCount).toBe(1)
  })

  test('marking one read locally counts down once', () => {
    let s = run({ type: 'page', response: page(3, 20, 3), request: 1 })
    s = notificationsReducer(s, { type: 'read', ids: ['30'] })
    s = notificationsReducer(s, { type: 'read', ids: ['30'] })
    expect(s.unreadCount).toBe(2)
  })

  test('older pages append without duplicates; the last one ends hasMore', () => {
    let s = run({ type: 'page', response: page(30, 20, 0), request: 1 })
    // The next page overlaps the first by one (a notification arrived in between): it is listed once.
    s = notificationsReducer(s, { type: 'more', response: page(11, 20, 0) })
    expect(seqs(s)).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i))
    expect(s.nextBefore).toBeNull()
  })

  test('a refresh keeps older pages when it reaches them, and replaces them when it does not', () => {
    let s = run(
      { type: 'page', response: page(30, 20, 0), request: 1 },
      { type: 'more', response: page(10, 20, 0) },
    )
    expect(s.items).toHaveLength(30)
    s = notificationsReducer(s, { type: 'resumed' })
    const reaching = notificationsReducer(s, {
      type: 'page',
      response: page(35, 20, 0),
      request: s.syncRequested,
    })
    expect(reaching.items).toHaveLength(35)
    expect(reaching.nextBefore).toBeNull()
    const far = notificationsReducer(s, { type: 'page', response: page(80, 20, 0), request: s.syncRequested })
    expect(seqs(far)).toEqual(Array.from({ length: 20 }, (_, i) => 80 - i))
    expect(far.nextBefore).toBe(61)
  })

  test('clear empties the view for good; new ones still appear', () => {
    let s = run({ type: 'page', response: page(30, 20, 5), request: 1 }, { type: 'clear' })
    expect(s.items).toEqual([])
    expect(s.unreadCount).toBe(0)
    expect(s.nextBefore).toBeNull()
    s = notificationsReducer(s, { type: 'sync' })
    s = notificationsReducer(s, { type: 'page', response: page(30, 20, 0, 30), request: s.syncRequested })
    expect(s.items).toEqual([])
    expect(s.nextBefore).toBeNull()
    s = notificationsReducer(s, { type: 'live', notification: n(31) })
    expect(seqs(s)).toEqual([31])
    expect(s.unreadCount).toBe(1)
  })

  test('signed out: an empty list and no error', () => {
    const s = run({ type: 'pageFailed', request: 1, error: null, signedOut: true })
    expect(s.items).toEqual([])
    expect(s.error).toBeNull()
    expect(s.loading).toBe(false)
    expect(s.syncRequested).toBe(s.syncDone)
  })
})
