import { describe, expect, test } from 'bun:test'
import { createManualClock } from '../../../test/helpers/manualClock'
import { createInProcessBus } from '../bus/createInProcessBus'
import type { Bus, BusEvent, BusListener } from '../bus/types'
import { createPresence, type Presence } from './createPresence'
import { createPresenceReplica, type PresenceTransition } from './presenceReplica'

// Presence without a server: the replica's arithmetic (one join and one leave per user however many
// connections and instances), and several instances' presences on one bus with a clock the test moves: gaps
// answered by snapshots, a crashed instance's members gone within the TTL, a stopped one's at once.

const alice = { userId: '1', address: '0xA11CE00000000000000000000000000000000001' }
const bob = { userId: '2', address: '0xB0B0000000000000000000000000000000000002' }
const ROOM = 'private:room'
const NEWS = 'public:news'

const kinds = (transitions: PresenceTransition[]) =>
  transitions.map((t) => `${t.kind} ${t.member.userId} ${t.channel}`)

describe('the replica', () => {
  test('one join for a user’s first connection anywhere, one leave for their last, none between', () => {
    const replica = createPresenceReplica()
    replica.register('a', 0)
    const step = (source: string, seq: number, entries: [string, string | null, string | null, number][]) =>
      kinds(replica.apply({ op: 'changes', source, seq, entries }, 0).transitions)
    expect(step('a', 1, [[ROOM, '1', alice.address, 1]])).toEqual([`join 1 ${ROOM}`])
    expect(step('a', 2, [[ROOM, '1', alice.address, 3]])).toEqual([])
    // Another instance, the same user: still one presence.
    expect(step('b', 1, [[ROOM, '1', alice.address, 1]])).toEqual([])
    expect(replica.members(ROOM)).toEqual([{ ...alice, connections: 4 }])
    expect(step('a', 3, [[ROOM, '1', alice.address, 0]])).toEqual([])
    expect(step('b', 2, [[ROOM, '1', alice.address, 0]])).toEqual([`leave 1 ${ROOM}`])
    expect(replica.members(ROOM)).toEqual([])
    expect(replica.counts(ROOM)).toEqual({ users: 0, connections: 0 })
  })

  test('anonymous connections count in connections only', () => {
    const replica = createPresenceReplica()
    replica.register('a', 0)
    const out = replica.apply(
      {
        op: 'changes',
        source: 'a',
        seq: 1,
        entries: [
          [NEWS, null, null, 3],
          [NEWS, '1', alice.address, 2],
        ],
      },
      0,
    )
    expect(kinds(out.transitions)).toEqual([`join 1 ${NEWS}`])
    expect(replica.counts(NEWS)).toEqual({ users: 1, connections: 5 })
  })

  test('a message applied twice changes nothing; a gap or an unknown source asks for a snapshot', () => {
    const replica = createPresenceReplica()
    replica.register('a', 0)
    const changes = {
      op: 'changes' as const,
      source: 'a',
      seq: 1,
      entries: [[ROOM, '1', alice.address, 1]] as const,
    }
    expect(replica.apply({ ...changes, entries: [...changes.entries] }, 0).requestFrom).toBeNull()
    expect(replica.apply({ ...changes, entries: [...changes.entries] }, 0).transitions).toEqual([])
    expect(replica.apply({ op: 'changes', source: 'a', seq: 3, entries: [] }, 0).requestFrom).toBe('a')
    expect(replica.apply({ op: 'heartbeat', source: 'c', seq: 4 }, 0).requestFrom).toBe('c')
    expect(replica.apply({ op: 'heartbeat', source: 'a', seq: 5 }, 0).requestFrom).toBe('a')
  })

  test('a snapshot replaces everything its source had', () => {
    const replica = createPresenceReplica()
    replica.apply(
      {
        op: 'snapshot',
        source: 'b',
        seq: 7,
        entries: [
          [ROOM, '1', alice.address, 1],
          [ROOM, '2', bob.address, 1],
        ],
      },
      0,
    )
    const step = replica.apply(
      { op: 'snapshot', source: 'b', seq: 9, entries: [[ROOM, '2', bob.address, 2]] },
      0,
    )
    expect(kinds(step.transitions)).toEqual([`leave 1 ${ROOM}`])
    expect(replica.members(ROOM)).toEqual([{ ...bob, connections: 2 }])
    // An older snapshot of a source known since is out of date.
    expect(replica.apply({ op: 'snapshot', source: 'b', seq: 8, entries: [] }, 0).transitions).toEqual([])
  })

  test('sources not heard from since a time are dropped, this instance never', () => {
    const replica = createPresenceReplica()
    replica.register('self', 0)
    replica.apply({ op: 'changes', source: 'self', seq: 1, entries: [[ROOM, '1', alice.address, 1]] }, 0)
    replica.apply({ op: 'snapshot', source: 'old', seq: 1, entries: [[ROOM, '2', bob.address, 1]] }, 0)
    replica.apply({ op: 'heartbeat', source: 'fresh', seq: 0 }, 50)
    expect(kinds(replica.expire(10, 'self'))).toEqual([`leave 2 ${ROOM}`])
    expect(replica.sources).toBe(2)
  })
})

/**
 * One bus, and per instance a view of it that a test can cut off (a crash: nothing in, nothing out) or make
 * lose the next presence messages it would receive.
 */
function cluster() {
  const shared = createInProcessBus(() => {})
  const clock = createManualClock(0)
  const instances: { presence: Presence; events: string[]; cut(): void; lose(n: number): void }[] = []
  const start = (source: string) => {
    let cut = false
    let losing = 0
    const bus: Bus = {
      ...shared,
      announce: (event: BusEvent) => (cut ? Promise.resolve() : shared.announce(event)),
      subscribe: (listener: BusListener) =>
        shared.subscribe({
          onEvent(event) {
            if (cut) return
            if (losing > 0 && event.kind === 'presence') {
              losing--
              return
            }
            listener.onEvent(event)
          },
        }),
    }
    const presence = createPresence({ bus, clock, ttlSeconds: 30, onError: () => {}, source })
    const events: string[] = []
    presence.listen((t) => events.push(`${t.kind} ${t.member.userId} ${t.channel}`))
    presence.start()
    const instance = {
      presence,
      events,
      cut: () => {
        cut = true
      },
      lose: (n: number) => {
        losing = n
      },
    }
    instances.push(instance)
    return instance
  }
  /** Lets every message in flight arrive: the changes counted so far, and the requests and snapshots they cause. */
  const settle = async () => {
    for (let round = 0; round < 3; round++) {
      for (const { presence } of instances) await presence.settled()
      // The bus here is in-process: what is in flight is a chain of promises, drained by the next macrotask.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  return { clock, start, settle }
}

describe('presence over a bus', () => {
  test('three tabs of one user on two instances: one join; closing two, no leave; the third, one leave', async () => {
    const { start, settle } = cluster()
    const a = start('a')
    const b = start('b')
    a.presence.add(ROOM, alice)
    a.presence.add(ROOM, alice)
    b.presence.add(ROOM, alice)
    await settle()
    expect(a.events).toEqual([`join 1 ${ROOM}`])
    expect(b.events).toEqual([`join 1 ${ROOM}`])
    expect(b.presence.members(ROOM)).toEqual([{ ...alice, connections: 3 }])
    a.presence.remove(ROOM, alice)
    b.presence.remove(ROOM, alice)
    await settle()
    expect(a.events).toEqual([`join 1 ${ROOM}`])
    a.presence.remove(ROOM, alice)
    await settle()
    for (const { events } of [a, b]) expect(events).toEqual([`join 1 ${ROOM}`, `leave 1 ${ROOM}`])
  })

  test('an instance started later learns what the others count (a snapshot), without joins for old members', async () => {
    const { start, settle } = cluster()
    const a = start('a')
    a.presence.add(ROOM, alice)
    a.presence.add(NEWS, null)
    await settle()
    const b = start('b')
    await settle()
    expect(b.presence.members(ROOM)).toEqual([{ ...alice, connections: 1 }])
    expect(b.presence.counts(NEWS)).toEqual({ users: 0, connections: 1 })
    // Learning of a member already there is a join on b's replica: its subscribers (none yet) may hear it.
    b.presence.add(ROOM, alice)
    await settle()
    expect(a.events).toEqual([`join 1 ${ROOM}`])
  })

  test("a crashed instance's members leave within the TTL; a live one's stay however long", async () => {
    const { clock, start, settle } = cluster()
    const a = start('a')
    const b = start('b')
    a.presence.add(ROOM, alice)
    b.presence.add(ROOM, bob)
    await settle()
    b.cut()
    // Heartbeats every 10 s; dropped when unheard for two of them, checked at each: gone by 30 s after.
    for (let t = 0; t < 20_000; t += 1000) clock.advance(1000)
    expect(a.events).toEqual([`join 1 ${ROOM}`, `join 2 ${ROOM}`])
    for (let t = 20_000; t < 30_000; t += 1000) clock.advance(1000)
    expect(a.events).toEqual([`join 1 ${ROOM}`, `join 2 ${ROOM}`, `leave 2 ${ROOM}`])
    for (let t = 0; t < 600_000; t += 5000) clock.advance(5000)
    expect(a.presence.members(ROOM)).toEqual([{ ...alice, connections: 1 }])
  })

  test('a stopped instance says bye: its members leave at once', async () => {
    const { start, settle } = cluster()
    const a = start('a')
    const b = start('b')
    b.presence.add(ROOM, bob)
    await settle()
    await b.presence.stop()
    expect(a.events).toEqual([`join 2 ${ROOM}`, `leave 2 ${ROOM}`])
  })

  test('a lost message is noticed at the next heartbeat and mended by a snapshot', async () => {
    const { clock, start, settle } = cluster()
    const a = start('a')
    const b = start('b')
    await settle()
    a.lose(1)
    b.presence.add(ROOM, bob)
    await settle()
    expect(a.presence.members(ROOM)).toEqual([])
    // b's heartbeat names a number a has not seen: a asks b for a snapshot, and has bob.
    clock.advance(10_000)
    await settle()
    expect(a.presence.members(ROOM)).toEqual([{ ...bob, connections: 1 }])
    expect(a.events).toEqual([`join 2 ${ROOM}`])
    // From then on, changes arrive as usual.
    b.presence.remove(ROOM, bob)
    await settle()
    expect(a.events).toEqual([`join 2 ${ROOM}`, `leave 2 ${ROOM}`])
  })
})
