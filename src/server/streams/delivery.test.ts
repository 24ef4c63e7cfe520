import { describe, expect, test } from 'bun:test'
import type { Schedule } from '../time/clock'
import { createStreamDelivery, type ReplayOptions, type StreamTransport } from './delivery'

// The stream core's ordering and replay, without a server: a store in memory whose reads can be held open,
// a transport that plays Bun's topics, and a scheduler the test advances by hand.

interface Item {
  seq: number
}

function createStore() {
  const streams = new Map<string, Item[]>()
  let gate: Promise<void> | null = null
  let open: (() => void) | null = null
  // Replies that wait after their snapshot was taken, as a database's answer travels back.
  let replyGate: Promise<void> | null = null
  let sendReplies: (() => void) | null = null
  let failing = false
  /** Per stream, the seq up to which its items were removed (a channel's retention). */
  const trimmed = new Map<string, number>()
  const items = (key: string) => streams.get(key) ?? []
  return {
    /** The latest committed seq, read without waiting. */
    latest: (key: string) => items(key).length,
    /** Commits the stream's next item and answers it (what the bus would then announce). */
    commit(key: string): Item {
      const list = items(key)
      const item = { seq: list.length + 1 }
      streams.set(key, [...list, item])
      return item
    },
    /** Reads wait (their snapshot is taken when they go on) until `go`. */
    pause() {
      gate = new Promise((resolve) => {
        open = resolve
      })
    },
    go() {
      gate = null
      open?.()
    },
    /** Reads take their snapshot at once but answer only after `reply`. */
    delayReplies() {
      replyGate = new Promise((resolve) => {
        sendReplies = resolve
      })
    },
    reply() {
      replyGate = null
      sendReplies?.()
    },
    fail(value: boolean) {
      failing = value
    },
    /** Removes the stream's items up to `seq`, as retention does; its latest seq stays. */
    trim(key: string, seq: number) {
      trimmed.set(key, seq)
    },
    source: {
      loadSince: async (key: string, since: number, limit: number) => {
        while (gate) await gate
        if (failing) throw new Error('store down')
        const snapshot = items(key)
          .filter((item) => item.seq > since && item.seq > (trimmed.get(key) ?? 0))
          .slice(0, limit)
        while (replyGate) await replyGate
        return snapshot
      },
      latestSeq: async (key: string) => {
        while (gate) await gate
        if (failing) throw new Error('store down')
        const snapshot = items(key).length
        while (replyGate) await replyGate
        return snapshot
      },
    },
  }
}

type Member = { name: string; frames: string[] }

/** Bun's topics, in memory: publish reaches the members subscribed at that moment. */
function createTransport(): StreamTransport<Member> & { topics: Map<string, Set<Member>> } {
  const topics = new Map<string, Set<Member>>()
  return {
    topics,
    subscribe(member, topic) {
      const set = topics.get(topic) ?? new Set()
      topics.set(topic, set)
      set.add(member)
    },
    unsubscribe(member, topic) {
      topics.get(topic)?.delete(member)
    },
    publish(topic, frame) {
      for (const member of topics.get(topic) ?? []) member.frames.push(frame)
    },
    send(member, frame) {
      member.frames.push(frame)
    },
    cork(_member, sends) {
      sends()
    },
  }
}

function createScheduler() {
  let tasks: { at: number; run: () => void; cancelled: boolean }[] = []
  let now = 0
  const schedule: Schedule = (run, ms) => {
    const task = { at: now + ms, run, cancelled: false }
    tasks.push(task)
    return () => {
      task.cancelled = true
    }
  }
  return {
    schedule,
    /** Runs what is due within `ms`, in order. */
    advance(ms: number) {
      now += ms
      const due = tasks.filter((t) => t.at <= now && !t.cancelled).sort((a, b) => a.at - b.at)
      tasks = tasks.filter((t) => t.at > now && !t.cancelled)
      for (const task of due) task.run()
    },
    get pending() {
      return tasks.filter((t) => !t.cancelled).length
    },
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

function setup(options: { cap?: number } = {}) {
  const store = createStore()
  const transport = createTransport()
  const scheduler = createScheduler()
  const errors: unknown[] = []
  const delivery = createStreamDelivery<Member, Item>({
    topicPrefix: 't:',
    frame: (key, item) => `${key}#${item.seq}`,
    source: store.source,
    transport,
    onError: (error) => errors.push(error),
    gapFillMs: 1000,
    schedule: scheduler.schedule,
  })
  const replayOptions: ReplayOptions = {
    cap: options.cap ?? 1000,
    replayed: (since, replayed, seq) => `replayed ${since} ${replayed} ${seq}`,
    reset: (seq) => `reset ${seq}`,
  }
  const member = (name: string): Member => ({ name, frames: [] })
  /** Commits an item and announces it on the "bus" at once. */
  const publish = (key: string) => {
    const item = store.commit(key)
    delivery.onItem(key, item)
    return item
  }
  return { store, transport, scheduler, errors, delivery, replayOptions, member, publish }
}

describe('stream delivery: live ordering', () => {
  test('items arrive in seq order; one ahead of a gap waits for the missing one', () => {
    const { store, delivery, member } = setup()
    const a = member('a')
    const b = member('b')
    delivery.join(a, 'k', { base: 0 })
    delivery.join(b, 'k', { base: 0 })
    const [one, two, three] = [store.commit('k'), store.commit('k'), store.commit('k')]
    delivery.onItem('k', one!)
    delivery.onItem('k', three!)
    expect(a.frames).toEqual(['k#1'])
    delivery.onItem('k', two!)
    delivery.onItem('k', two!)
    expect(a.frames).toEqual(['k#1', 'k#2', 'k#3'])
    expect(b.frames).toEqual(a.frames)
  })

  test('a hole that the bus never fills is filled from the store after gapFillMs', async () => {
    const { store, scheduler, delivery, member, publish } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0 })
    publish('k')
    store.commit('k') // stored, never announced: a lost bus message
    publish('k')
    expect(a.frames).toEqual(['k#1'])
    scheduler.advance(999)
    await settle()
    expect(a.frames).toEqual(['k#1'])
    scheduler.advance(1)
    await settle()
    expect(a.frames).toEqual(['k#1', 'k#2', 'k#3'])
    expect(scheduler.pending).toBe(0)
  })

  test('streams are independent; a member of two gets each in its own order', () => {
    const { delivery, member, publish } = setup()
    const a = member('a')
    delivery.join(a, 'x', { base: 0 })
    delivery.join(a, 'y', { base: 0 })
    publish('x')
    publish('y')
    publish('x')
    expect(a.frames).toEqual(['x#1', 'y#1', 'x#2'])
  })

  test('leave stops delivery; the last member leaving drops the stream', () => {
    const { delivery, member, publish } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0 })
    expect(delivery.size).toBe(1)
    publish('k')
    delivery.leave(a, 'k')
    publish('k')
    expect(a.frames).toEqual(['k#1'])
    expect(delivery.size).toBe(0)
    expect(delivery.members('k')).toEqual([])
  })
})

describe('stream delivery: a stream with many members', () => {
  test('joins and leaves past the indexing threshold: each item reaches exactly the members there', () => {
    const { delivery, member, publish } = setup()
    const all = Array.from({ length: 300 }, (_, i) => member(String(i)))
    for (const m of all) delivery.join(m, 'k', { base: 0 })
    // Joining twice adds nothing; every other member leaves, from both ends.
    delivery.join(all[7]!, 'k')
    for (let i = 0; i < 150; i += 2) {
      delivery.leave(all[i]!, 'k')
      delivery.leave(all[299 - i]!, 'k')
    }
    publish('k')
    const stayed = all.filter((m) => m.frames.length === 1)
    expect(stayed.length).toBe(150)
    expect(new Set(delivery.members('k'))).toEqual(new Set(stayed))
    for (const m of all) delivery.leave(m, 'k')
    expect(delivery.size).toBe(0)
  })
})

describe('stream delivery: a base read while items are committed', () => {
  test('an item committed and announced while the base is read (authentication) is delivered', () => {
    const { store, delivery, member } = setup()
    const a = member('a')
    store.commit('k')
    // The authenticating query reads the latest seq (1) …
    delivery.hold('k')
    const base = 1
    // … and item 2 commits and is announced before the connection joins.
    delivery.onItem('k', store.commit('k'))
    expect(delivery.join(a, 'k', { base, held: true })).toBe(2)
    expect(a.frames).toEqual(['k#2'])
  })

  test('without the hold, the same race would lose the item until the next one: the hold is what closes it', () => {
    const { store, delivery, member } = setup()
    const a = member('a')
    delivery.onItem('k', store.commit('k'))
    delivery.join(a, 'k', { base: 0 })
    // Nothing was captured: the join starts from its base and the missed item is only found by the gap fill.
    expect(a.frames).toEqual([])
  })

  test('open reads the base when the stream is new here, holding items that arrive meanwhile', async () => {
    const { store, delivery, member } = setup()
    const a = member('a')
    store.commit('k')
    store.pause()
    const opened = delivery.open(a, 'k')
    await settle()
    delivery.onItem('k', store.commit('k')) // 2 arrives before the read's snapshot …
    store.go()
    // … the read sees 2 as committed: the base is 2, and 2 is not pushed again.
    expect(await opened).toBe(2)
    expect(a.frames).toEqual([])
    const b = member('b')
    store.pause()
    const second = delivery.open(b, 'k') // the stream is live here: no read
    expect(await second).toBe(2)
    store.go()
    delivery.onItem('k', store.commit('k'))
    expect(a.frames).toEqual(['k#3'])
    expect(b.frames).toEqual(['k#3'])
  })

  test('an item held before a base that is behind it is delivered when the base arrives', async () => {
    const { store, delivery, member } = setup()
    const a = member('a')
    store.pause()
    const opened = delivery.open(a, 'k')
    await settle()
    // The read's snapshot will not see these: they commit after it.
    store.go()
    const base = await opened
    expect(base).toBe(0)
    delivery.onItem('k', store.commit('k'))
    expect(a.frames).toEqual(['k#1'])
  })

  test('a base that cannot be read: open answers null and leaves nothing behind', async () => {
    const { store, delivery, member, errors } = setup()
    store.fail(true)
    expect(await delivery.open(member('a'), 'k')).toBeNull()
    expect(delivery.size).toBe(0)
    expect(errors).toHaveLength(1)
  })
})

describe('stream delivery: replay and the switch to live', () => {
  test('every item after since, then the closing frame, then live ones; items committed during the read are neither lost nor doubled', async () => {
    const { store, delivery, member, publish, replayOptions } = setup()
    const live = member('live')
    const back = member('back')
    delivery.join(live, 'k', { base: 0 })
    for (let i = 0; i < 5; i++) publish('k')
    delivery.join(back, 'k', { live: false })
    store.pause()
    const replaying = delivery.replay(back, 'k', 2, replayOptions)
    await settle()
    publish('k') // 6: announced while the replay's read waits: buffered for `back`
    store.go()
    await settle()
    publish('k') // 7 is announced after the read took its snapshot
    expect(await replaying).toEqual({ kind: 'replayed', since: 2, replayed: 4, seq: 6 })
    publish('k')
    expect(back.frames).toEqual(['k#3', 'k#4', 'k#5', 'k#6', 'replayed 2 4 6', 'k#7', 'k#8'])
    expect(live.frames).toEqual(['k#1', 'k#2', 'k#3', 'k#4', 'k#5', 'k#6', 'k#7', 'k#8'])
  })

  test('a replay whose first item is past since + 1 (the ones between were removed) answers reset with the latest seq', async () => {
    const { store, delivery, member, publish, replayOptions } = setup()
    const a = member('a')
    for (let i = 0; i < 5; i++) publish('k')
    store.trim('k', 3)
    delivery.join(a, 'k', { live: false })
    expect(await delivery.replay(a, 'k', 1, replayOptions)).toEqual({ kind: 'reset', seq: 5 })
    publish('k')
    expect(a.frames).toEqual(['reset 5', 'k#6'])
    // From the first kept item on, the replay is exact again.
    const b = member('b')
    delivery.join(b, 'k', { live: false })
    expect(await delivery.replay(b, 'k', 3, replayOptions)).toEqual({
      kind: 'replayed',
      since: 3,
      replayed: 3,
      seq: 6,
    })
    expect(b.frames).toEqual(['k#4', 'k#5', 'k#6', 'replayed 3 3 6'])
  })

  test('an item committed after the read’s snapshot and announced before its answer reaches the member once, after the closing frame', async () => {
    const { store, delivery, member, publish, replayOptions } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0, live: false })
    publish('k')
    store.delayReplies()
    const replaying = delivery.replay(a, 'k', 0, replayOptions)
    await settle()
    publish('k') // after the snapshot, before the answer: only the buffer has it
    store.reply()
    expect(await replaying).toEqual({ kind: 'replayed', since: 0, replayed: 1, seq: 1 })
    publish('k')
    expect(a.frames).toEqual(['k#1', 'replayed 0 1 1', 'k#2', 'k#3'])
  })

  test('the read sees items the bus has not brought yet: the member waits for them live, then switches', async () => {
    const { store, scheduler, delivery, member, replayOptions } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0, live: false })
    store.commit('k')
    store.commit('k')
    // Committed, not yet announced: the replay reads them and the others' sequencer takes them from it.
    const other = member('other')
    delivery.join(other, 'k')
    expect(await delivery.replay(a, 'k', 0, replayOptions)).toEqual({
      kind: 'replayed',
      since: 0,
      replayed: 2,
      seq: 2,
    })
    expect(a.frames).toEqual(['k#1', 'k#2', 'replayed 0 2 2'])
    expect(other.frames).toEqual(['k#1', 'k#2'])
    // The late announcements change nothing.
    delivery.onItem('k', { seq: 1 })
    delivery.onItem('k', { seq: 2 })
    delivery.onItem('k', store.commit('k'))
    expect(a.frames).toEqual(['k#1', 'k#2', 'replayed 0 2 2', 'k#3'])
    expect(scheduler.pending).toBe(0)
  })

  test('more than the cap missing → reset, then live from the latest seq', async () => {
    const { delivery, member, publish, replayOptions } = setup({ cap: 3 })
    const a = member('a')
    delivery.join(a, 'k', { base: 0, live: false })
    for (let i = 0; i < 5; i++) publish('k')
    expect(await delivery.replay(a, 'k', 1, { ...replayOptions, cap: 3 })).toEqual({ kind: 'reset', seq: 5 })
    publish('k')
    expect(a.frames).toEqual(['reset 5', 'k#6'])
  })

  test('since ahead of the store → reset to the latest seq', async () => {
    const { delivery, member, publish, replayOptions } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0 })
    publish('k')
    expect(await delivery.replay(a, 'k', 40, replayOptions)).toEqual({ kind: 'reset', seq: 1 })
    expect(a.frames).toEqual(['k#1', 'reset 1'])
  })

  test('nothing missed: replayed 0 with the same seq, then live', async () => {
    const { delivery, member, publish, replayOptions } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0, live: false })
    publish('k')
    expect(await delivery.replay(a, 'k', 1, replayOptions)).toEqual({
      kind: 'replayed',
      since: 1,
      replayed: 0,
      seq: 1,
    })
    publish('k')
    expect(a.frames).toEqual(['replayed 1 0 1', 'k#2'])
  })

  test('the store fails: unavailable, and the member is live (the client asks again)', async () => {
    const { store, delivery, member, publish, replayOptions, errors } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0, live: false })
    store.fail(true)
    expect(await delivery.replay(a, 'k', 0, replayOptions)).toEqual({ kind: 'unavailable' })
    expect(errors).toHaveLength(1)
    store.fail(false)
    publish('k')
    expect(a.frames).toEqual(['k#1'])
  })

  test('the member leaves during the read: gone, and nothing is sent to it', async () => {
    const { store, delivery, member, publish, replayOptions } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0, live: false })
    publish('k')
    store.pause()
    const replaying = delivery.replay(a, 'k', 0, replayOptions)
    await settle()
    delivery.leave(a, 'k')
    store.go()
    expect(await replaying).toEqual({ kind: 'gone' })
    expect(a.frames).toEqual([])
    expect(delivery.size).toBe(0)
  })

  test('a second replay while one runs is ignored (busy)', async () => {
    const { store, delivery, member, replayOptions } = setup()
    const a = member('a')
    delivery.join(a, 'k', { base: 0, live: false })
    store.pause()
    const first = delivery.replay(a, 'k', 0, replayOptions)
    expect(await delivery.replay(a, 'k', 0, replayOptions)).toEqual({ kind: 'busy' })
    store.go()
    expect((await first).kind).toBe('replayed')
  })

  test('a replay on a stream new here reads its base first; items held meanwhile are not lost', async () => {
    const { store, delivery, member, replayOptions } = setup()
    const a = member('a')
    store.commit('k')
    delivery.join(a, 'k', { live: false })
    store.pause()
    const replaying = delivery.replay(a, 'k', 0, replayOptions)
    await settle()
    delivery.onItem('k', store.commit('k'))
    store.go()
    await replaying
    delivery.onItem('k', store.commit('k'))
    expect(a.frames).toEqual(['k#1', 'k#2', 'replayed 0 2 2', 'k#3'])
  })
})

describe('stream delivery: random interleavings', () => {
  // A small PRNG so a failure names a seed that reproduces it.
  const prng = (seed: number) => () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }

  test('commits, reordered and lost announcements, joins, replays and leaves while reads hang: every member gets each item after its start exactly once, in order', async () => {
    let replays = 0
    let concurrentReads = 0
    for (let seed = 1; seed <= 80; seed++) {
      const random = prng(seed)
      const { store, scheduler, delivery, member, replayOptions } = setup({ cap: 1000 })
      const inFlight: Item[] = []
      const members: { m: Member; start: number | null; since: number | null; left: boolean }[] = []
      const running: Promise<unknown>[] = []
      let paused = false
      let delayed = false
      let waiting = 0
      for (let step = 0; step < 150; step++) {
        const r = random()
        if (r < 0.3) inFlight.push(store.commit('k'))
        else if (r < 0.55 && inFlight.length > 0) {
          // The bus delivers one announcement, not always the oldest; sometimes it is lost.
          const i = Math.floor(random() * Math.min(3, inFlight.length))
          const [item] = inFlight.splice(i, 1)
          if (random() > 0.1) delivery.onItem('k', item!)
        } else if (r < 0.65) {
          const m = member(`m${members.length}`)
          const entry = { m, start: null as number | null, since: null as number | null, left: false }
          members.push(entry)
          waiting++
          if (random() < 0.4) {
            running.push(
              delivery.open(m, 'k').then((start) => {
                entry.start = start
                waiting--
              }),
            )
          } else {
            entry.since = Math.floor(random() * (store.latest('k') + 1))
            delivery.join(m, 'k', { live: false })
            replays++
            running.push(
              delivery.replay(m, 'k', entry.since, replayOptions).then((outcome) => {
                waiting--
                if (!entry.left) expect(outcome.kind).toBe('replayed')
              }),
            )
          }
          if (waiting > 1) concurrentReads++
        } else if (r < 0.7) {
          const active = members.filter((e) => !e.left)
          if (active.length > 0) {
            const entry = active[Math.floor(random() * active.length)]!
            entry.left = true
            delivery.leave(entry.m, 'k')
          }
        } else if (r < 0.8) {
          // Reads hang for a while (their snapshot is taken when they go on).
          if (paused) store.go()
          else store.pause()
          paused = !paused
        } else if (r < 0.85) {
          scheduler.advance(1000)
        } else if (r < 0.9) {
          if (delayed) store.reply()
          else store.delayReplies()
          delayed = !delayed
        }
        await settle()
      }
      store.go()
      store.reply()
      await Promise.all(running)
      // Everything still in flight arrives (or is found by the gap fill), then time passes.
      for (const item of inFlight) delivery.onItem('k', item)
      for (let i = 0; i < 3; i++) {
        scheduler.advance(1000)
        await settle()
      }
      const latest = store.latest('k')
      for (const entry of members.filter((e) => !e.left)) {
        const seqs = entry.m.frames.filter((f) => f.startsWith('k#')).map((f) => Number(f.slice(2)))
        const from = (entry.since ?? entry.start!) + 1
        const expected = Array.from({ length: Math.max(0, latest - from + 1) }, (_, i) => from + i)
        expect({ seed, member: entry.m.name, seqs }).toEqual({ seed, member: entry.m.name, seqs: expected })
      }
    }
    // The interleavings did happen.
    expect(replays).toBeGreaterThan(100)
    expect(concurrentReads).toBeGreaterThan(50)
  })
})
