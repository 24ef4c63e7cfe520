import { expect, test } from 'bun:test'
import { applyInboxCounts, applyInboxNotification, inboxCountsOf, initialInboxCounts } from './inboxCounts'

// The counts a view shows, from states and notifications arriving in any order (docs/protocol.md §7).

const counts = (unreadCount: number, unseenCount: number, seq: number, version: number) => ({
  unreadCount,
  unseenCount,
  seq,
  version,
})

test('notifications above the applied seq count once; a state that includes them replaces them', () => {
  let state = initialInboxCounts()
  state = applyInboxNotification(state, { seq: 1 })
  expect(inboxCountsOf(state)).toBeNull()
  state = applyInboxCounts(state, counts(0, 0, 0, 0))
  expect(inboxCountsOf(state)).toEqual({ unreadCount: 1, unseenCount: 1 })
  state = applyInboxNotification(state, { seq: 2 })
  state = applyInboxNotification(state, { seq: 2 })
  expect(inboxCountsOf(state)).toEqual({ unreadCount: 2, unseenCount: 2 })
  // Seen up to 2, computed after both: only its own numbers.
  state = applyInboxCounts(state, counts(2, 0, 2, 1))
  expect(inboxCountsOf(state)).toEqual({ unreadCount: 2, unseenCount: 0 })
})

test('an older state arriving late is skipped; a notification arriving before its state is not counted twice', () => {
  let state = applyInboxCounts(initialInboxCounts(), counts(3, 3, 3, 5))
  state = applyInboxNotification(state, { seq: 4 })
  // Version 4 was computed before 5: skipped.
  state = applyInboxCounts(state, counts(0, 0, 3, 4))
  expect(inboxCountsOf(state)).toEqual({ unreadCount: 4, unseenCount: 4 })
  // The same version at a later seq (an HTTP answer after a publish) is newer.
  state = applyInboxCounts(state, counts(4, 4, 4, 5))
  expect(inboxCountsOf(state)).toEqual({ unreadCount: 4, unseenCount: 4 })
  state = applyInboxNotification(state, { seq: 4 })
  expect(inboxCountsOf(state)).toEqual({ unreadCount: 4, unseenCount: 4 })
})
