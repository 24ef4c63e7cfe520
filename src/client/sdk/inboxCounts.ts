import type { InboxCounts, Notification } from '../../shared/protocol'

/**
 * A view's unread and unseen counts, kept equal to the server's (docs/protocol.md §7) from what arrives in any
 * order: counts from `read_state`, `inbox_state` or an HTTP answer (each naming the `seq` and `version` it
 * stands at) and live notifications. A state older than the last applied one (a lower version, or the same
 * version at a lower seq) is skipped; a notification above the applied state's seq is new, so unread and
 * unseen, and adds one to both until a state that includes it arrives.
 */
export interface InboxCountsState {
  /** The last applied counts; null until the first arrives. */
  base: InboxCounts | null
  /** Seqs of live notifications above `base.seq` (or all of them while `base` is null). */
  newer: readonly number[]
}

export const initialInboxCounts = (): InboxCountsState => ({ base: null, newer: [] })

const isNewer = (next: InboxCounts, base: InboxCounts | null) =>
  base === null || next.version > base.version || (next.version === base.version && next.seq >= base.seq)

/** Applies counts from a message or an HTTP answer; the state unchanged when they are older. */
export function applyInboxCounts(state: InboxCountsState, counts: InboxCounts): InboxCountsState {
  if (!isNewer(counts, state.base)) return state
  const base = {
    unreadCount: counts.unreadCount,
    unseenCount: counts.unseenCount,
    seq: counts.seq,
    version: counts.version,
  }
  return { base, newer: state.newer.filter((seq) => seq > base.seq) }
}

/** Counts a live notification once (a replayed or repeated one is not counted twice). */
export function applyInboxNotification(
  state: InboxCountsState,
  notification: Pick<Notification, 'seq'>,
): InboxCountsState {
  const { seq } = notification
  if ((state.base && seq <= state.base.seq) || state.newer.includes(seq)) return state
  return { ...state, newer: [...state.newer, seq] }
}

/** The counts to show; null until the first counts arrived. */
export function inboxCountsOf(state: InboxCountsState): { unreadCount: number; unseenCount: number } | null {
  if (!state.base) return null
  return {
    unreadCount: state.base.unreadCount + state.newer.length,
    unseenCount: state.base.unseenCount + state.newer.length,
  }
}
