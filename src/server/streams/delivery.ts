import { systemClock } from '../time/clock'
import { coalesceReads } from './coalesceReads'
import { addMember, hasMember, type MemberList, removeMember } from './memberList'
import type { ReplayOutcome, StreamDelivery, StreamDeliveryOptions, StreamItem } from './types'

export type * from './types'

/**
 * The delivery half of the stream core: for every stream that has members on this instance (a user's inbox, a
 * channel), push its items to them in strictly increasing seq order, hold items that arrive ahead of a gap and
 * fill the gap from the store, replay what a member missed and switch it to live without a gap or a repeat.
 *
 * It is pure state over three injected things: the store (`loadSince`, `latestSeq`), the transport (native
 * topics and direct sends) and a scheduler, so its ordering and replay are tested without a server.
 *
 * Every stream's base (the seq up to which its items are committed and already handled here) is known before
 * its first member is live or replaying: a caller either brings it (authentication reads the user's latest
 * seq in the same query as the session) or the core reads it. Items that arrive while the base is being read
 * are held (`hold`), so an item committed during the read is never lost.
 */

interface Replay<M> {
  member: M
  /** Live frames pushed while the store was read, sent after it when newer than `until`. */
  buffer: { seq: number; frame: string }[]
  /** The seq the replay reached; null while the store is being read. */
  until: number | null
}

interface StreamState<M, Item> extends MemberList<M> {
  key: string
  topic: string
  /** A handful for an inbox, many for a busy channel (indexed then: ./memberList.ts). */
  members: M[]
  /** Members not on the topic: replaying, or waiting for a replay to start. Null when none. */
  offTopic: Set<M> | null
  replays: Map<M, Replay<M>> | null
  /** The last seq pushed here; null while the base is unknown. */
  lastSeq: number | null
  holds: number
  /** Items that arrived ahead of a missing seq (or before the base was known). */
  pending: Map<number, Item> | null
  cancelGapFill: (() => void) | null
  filling: boolean
  /** The bus began to follow the stream before its base was known: read the store once it is. */
  catchUpAfterBase: boolean
}

const NO_MEMBERS: readonly never[] = []

export function createStreamDelivery<M, Item extends StreamItem>(
  options: StreamDeliveryOptions<M, Item>,
): StreamDelivery<M, Item> {
  const { transport, onError } = options
  // Many members replaying one stream from one seq at once (a restart) share their reads.
  const source = coalesceReads(options.source)
  const gapFillMs = options.gapFillMs ?? 1000
  const fillBatch = options.fillBatch ?? 500
  const schedule = options.schedule ?? systemClock.schedule
  const states = new Map<string, StreamState<M, Item>>()
  let withMembers = 0

  const ensure = (key: string): StreamState<M, Item> => {
    let state = states.get(key)
    if (!state) {
      state = {
        key,
        topic: options.topicPrefix + key,
        members: [],
        index: null,
        offTopic: null,
        replays: null,
        lastSeq: null,
        holds: 0,
        pending: null,
        cancelGapFill: null,
        filling: false,
        catchUpAfterBase: false,
      }
      states.set(key, state)
      const started = options.onStart?.(key)
      if (started) {
        const current = state
        started.then(
          () => catchUp(current),
          (error) => onError(error, `following stream ${key} on the bus`),
        )
      }
    }
    return state
  }

  /** The bus follows the stream now: anything announced before is read from the store (once its base is known). */
  const catchUp = (state: StreamState<M, Item>) => {
    if (states.get(state.key) !== state) return
    if (state.lastSeq === null) state.catchUpAfterBase = true
    else void fillGap(state)
  }

  const dropIfUnused = (state: StreamState<M, Item>) => {
    if (state.members.length > 0 || state.holds > 0) return
    state.cancelGapFill?.()
    state.cancelGapFill = null
    if (states.get(state.key) !== state) return
    states.delete(state.key)
    options.onStop?.(state.key)
  }

  const receivers = (state: StreamState<M, Item>) => state.members.length - (state.offTopic?.size ?? 0)

  const emit = (state: StreamState<M, Item>, item: Item) => {
    state.lastSeq = item.seq
    const frame = options.frame(state.key, item)
    const live = receivers(state)
    if (live > 0) transport.publish(state.topic, frame, state.members, live)
    options.onEmit?.(item)
    if (!state.replays) return
    for (const replay of [...state.replays.values()]) {
      replay.buffer.push({ seq: item.seq, frame })
      if (replay.until !== null && item.seq >= replay.until) finishReplay(state, replay)
    }
  }

  /** Pushes items in seq order, holding any that arrive ahead of a gap (or before the base is known). */
  const sequence = (state: StreamState<M, Item>, item: Item) => {
    if (state.lastSeq !== null && item.seq <= state.lastSeq) return
    if (state.lastSeq === null || item.seq !== state.lastSeq + 1) {
      state.pending ??= new Map()
      state.pending.set(item.seq, item)
      if (state.lastSeq !== null) scheduleGapFill(state)
      return
    }
    emit(state, item)
    drain(state)
  }

  const drain = (state: StreamState<M, Item>) => {
    const pending = state.pending
    if (!pending || state.lastSeq === null) return
    let next = pending.get(state.lastSeq + 1)
    while (next) {
      pending.delete(next.seq)
      emit(state, next)
      next = pending.get(state.lastSeq + 1)
    }
    if (pending.size === 0) {
      state.pending = null
      state.cancelGapFill?.()
      state.cancelGapFill = null
    } else scheduleGapFill(state)
  }

  const setBase = (state: StreamState<M, Item>, base: number) => {
    if (state.lastSeq === null) {
      state.lastSeq = base
      if (state.pending) for (const seq of state.pending.keys()) if (seq <= base) state.pending.delete(seq)
      drain(state)
      if (state.catchUpAfterBase) {
        state.catchUpAfterBase = false
        void fillGap(state)
      }
    } else if (base > state.lastSeq) {
      // Committed here but not announced yet (or never: a lost bus message): the store has them.
      scheduleGapFill(state)
    }
  }

  const scheduleGapFill = (state: StreamState<M, Item>) => {
    if (state.cancelGapFill || state.filling) return
    state.cancelGapFill = schedule(() => {
      state.cancelGapFill = null
      void fillGap(state)
    }, gapFillMs)
  }

  /** Loads what the bus did not bring (yet) straight from the store, which has every committed item. */
  const fillGap = async (state: StreamState<M, Item>): Promise<void> => {
    if (states.get(state.key) !== state || state.lastSeq === null || state.filling) return
    state.filling = true
    try {
      for (;;) {
        const items = await source.loadSince(state.key, state.lastSeq!, fillBatch)
        for (const item of items) sequence(state, item)
        if (items.length < fillBatch || states.get(state.key) !== state) break
      }
    } catch (error) {
      onError(error, `filling the gap of stream ${state.key}`)
    } finally {
      state.filling = false
    }
    if (states.get(state.key) !== state) return
    let waiting = false
    if (state.replays)
      for (const replay of state.replays.values())
        if (replay.until !== null && replay.until > state.lastSeq!) waiting = true
    if ((state.pending && state.pending.size > 0) || waiting) scheduleGapFill(state)
  }

  const goLive = (state: StreamState<M, Item>, member: M) => {
    if (!state.offTopic?.delete(member)) return
    if (state.offTopic.size === 0) state.offTopic = null
    transport.subscribe(member, state.topic)
  }

  const goOffTopic = (state: StreamState<M, Item>, member: M) => {
    if (state.offTopic?.has(member)) return
    state.offTopic ??= new Set()
    state.offTopic.add(member)
    transport.unsubscribe(member, state.topic)
  }

  const endReplay = (state: StreamState<M, Item>, replay: Replay<M>) => {
    if (state.replays?.get(replay.member) !== replay) return false
    state.replays.delete(replay.member)
    if (state.replays.size === 0) state.replays = null
    return true
  }

  const finishReplay = (state: StreamState<M, Item>, replay: Replay<M>) => {
    if (replay.until === null || !endReplay(state, replay)) return
    const until = replay.until
    if (replay.buffer.length > 0)
      transport.cork(replay.member, () => {
        for (const item of replay.buffer) if (item.seq > until) transport.send(replay.member, item.frame)
      })
    goLive(state, replay.member)
  }

  /** Reads the base of a stream that has none here yet; the state exists (held) while it is read. */
  const ensureBase = async (state: StreamState<M, Item>): Promise<boolean> => {
    if (state.lastSeq !== null) return true
    state.holds++
    try {
      setBase(state, await source.latestSeq(state.key))
      return true
    } catch (error) {
      onError(error, `reading the latest seq of stream ${state.key}`)
      return false
    } finally {
      state.holds--
    }
  }

  const join: StreamDelivery<M, Item>['join'] = (member, key, joinOptions = {}) => {
    const state = ensure(key)
    if (joinOptions.held) state.holds = Math.max(0, state.holds - 1)
    if (!hasMember(state, member)) {
      addMember(state, member)
      if (state.members.length === 1) withMembers++
      if (joinOptions.live === false) {
        state.offTopic ??= new Set()
        state.offTopic.add(member)
      } else transport.subscribe(member, state.topic)
    }
    if (joinOptions.base !== undefined) setBase(state, joinOptions.base)
    if (joinOptions.catchUp) void fillGap(state)
    return state.lastSeq
  }

  const open: StreamDelivery<M, Item>['open'] = async (member, key, joined) => {
    const state = ensure(key)
    if (state.lastSeq === null && !(await ensureBase(state))) {
      dropIfUnused(state)
      return null
    }
    // Held while its base was read, the state is still the stream's.
    const base = join(member, key)!
    joined?.(base)
    return base
  }

  return {
    hold(key) {
      ensure(key).holds++
    },
    release(key) {
      const state = states.get(key)
      if (!state) return
      state.holds = Math.max(0, state.holds - 1)
      dropIfUnused(state)
    },
    join,
    open,
    async replay(member, key, since, replayOptions) {
      const state = states.get(key)
      if (!state || !hasMember(state, member)) return { kind: 'gone' }
      if (state.replays?.has(member)) return { kind: 'busy' }
      const replay: Replay<M> = { member, buffer: [], until: null }
      state.replays ??= new Map()
      state.replays.set(member, replay)
      goOffTopic(state, member)
      const cap = replayOptions.cap
      let items: Item[] | null = null
      let latest: number | null = null
      try {
        if (!(await ensureBase(state))) throw new Error('the stream base could not be read')
        items = await source.loadSince(key, since, cap + 1)
        // Nothing after `since` and `since` within what this instance knows the stream has: the client missed
        // nothing (the common case when many resume at once), so the latest seq need not be read. Otherwise it
        // tells a client ahead of the store, or past the cap, where to start again.
        const caughtUp = items.length === 0 && state.lastSeq !== null && since <= state.lastSeq
        if (!caughtUp && (items.length > cap || items.length === 0 || items[0]!.seq !== since + 1))
          latest = await source.latestSeq(key)
      } catch (error) {
        onError(error, `replaying stream ${key} since ${since}`)
        items = null
      }
      if (state.replays?.get(member) !== replay) return { kind: 'gone' }
      if (items === null) {
        // Live delivery goes on; the client may ask again.
        endReplay(state, replay)
        goLive(state, member)
        return { kind: 'unavailable' }
      }
      let outcome: ReplayOutcome
      // A first item after `since + 1` means the items between were removed (a channel's retention): the
      // replay cannot be exact, so it is answered like one past the cap.
      const trimmed = items.length > 0 && items[0]!.seq !== since + 1
      if (items.length > cap || trimmed || (latest !== null && since > latest)) {
        // Too far behind, or ahead of anything the store has: the client reads the history another way.
        replay.until = latest!
        transport.send(member, replayOptions.reset(latest!))
        outcome = { kind: 'reset', seq: latest! }
      } else {
        const until = items.length > 0 ? items[items.length - 1]!.seq : since
        replay.until = until
        const read = items
        transport.cork(member, () => {
          for (const item of read) transport.send(member, options.frame(key, item))
          transport.send(member, replayOptions.replayed(since, read.length, until))
        })
        // What the replay read is committed: the other members need not wait for the bus to bring it.
        for (const item of read) sequence(state, item)
        outcome = { kind: 'replayed', since, replayed: read.length, seq: until }
      }
      if (state.lastSeq! >= replay.until) finishReplay(state, replay)
      else scheduleGapFill(state)
      return outcome
    },
    leave(member, key) {
      const state = states.get(key)
      if (!state) return
      if (!removeMember(state, member)) return
      if (state.members.length === 0) withMembers--
      const replay = state.replays?.get(member)
      if (replay) endReplay(state, replay)
      if (state.offTopic?.delete(member)) {
        if (state.offTopic.size === 0) state.offTopic = null
      } else transport.unsubscribe(member, state.topic)
      dropIfUnused(state)
    },
    onItem(key, item) {
      const state = states.get(key)
      if (state) sequence(state, item)
    },
    deliver(key, frame) {
      const state = states.get(key)
      if (!state) return
      const live = receivers(state)
      if (live > 0) transport.publish(state.topic, frame, state.members, live)
      if (state.offTopic) for (const member of state.offTopic) transport.send(member, frame)
    },
    resync() {
      for (const state of states.values()) void fillGap(state)
    },
    members(key) {
      return states.get(key)?.members ?? NO_MEMBERS
    },
    get size() {
      return withMembers
    },
    stop() {
      for (const state of states.values()) {
        state.cancelGapFill?.()
        state.cancelGapFill = null
      }
      states.clear()
      withMembers = 0
    },
  }
}
