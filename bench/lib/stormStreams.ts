// The restart storm's streams: which channels (Socket.IO rooms) a client is on, and the check that each
// client received every message of its streams exactly once, in order. Shared by the orchestrator
// (bench/storm.ts), which knows what was published, and the load clients (bench/stormClient.ts), which know
// what arrived.

/** Channels `public:storm-<k>`, k = client index mod this: a few hundred clients on each at 10,000. */
export const STORM_SPREAD = 50

/** The three channels of client `i`: its own small group, one half of all clients, and one for everyone. */
export function stormChannels(i: number): string[] {
  return [`public:storm-${i % STORM_SPREAD}`, `public:storm-half-${i % 2}`, 'public:storm-all']
}

/** Every channel some client is on (the publisher's round publishes once on each). */
export function allStormChannels(): string[] {
  return [
    ...Array.from({ length: STORM_SPREAD }, (_, k) => `public:storm-${k}`),
    'public:storm-half-0',
    'public:storm-half-1',
    'public:storm-all',
  ]
}

/** What was published: per channel and per user, the seqs (Socket.IO: the publisher's counter) in order. */
export interface Expected {
  channels: Record<string, number[]>
  users: Record<string, number[]>
}

export interface Delivery {
  /** Messages expected over all clients (each of a client's streams counted for that client). */
  expected: number
  received: number
  /** Expected and never received. */
  lost: number
  /** Received more than once. */
  duplicated: number
  /** Received after a later seq of the same stream. */
  outOfOrder: number
  /** Received but never published (a publish that failed on the publisher's side and was stored anyway). */
  unexpected: number
  /** Clients with at least one loss. */
  clientsWithLoss: number
  /** The first few discrepancies, to find a bug from. */
  examples: string[]
}

export function emptyDelivery(): Delivery {
  return {
    expected: 0,
    received: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    unexpected: 0,
    clientsWithLoss: 0,
    examples: [],
  }
}

/** Adds one stream of one client to `into`: `received` in arrival order against `expected` (ascending). */
export function checkStream(into: Delivery, label: string, expected: number[], received: number[]): boolean {
  into.expected += expected.length
  into.received += received.length
  const wanted = new Set(expected)
  const seen = new Set<number>()
  let lost = false
  let previous = Number.NEGATIVE_INFINITY
  for (const seq of received) {
    if (seen.has(seq)) {
      into.duplicated++
      if (into.examples.length < 10) into.examples.push(`${label}: seq ${seq} twice`)
    } else if (!wanted.has(seq)) {
      into.unexpected++
      if (into.examples.length < 10) into.examples.push(`${label}: seq ${seq} never published`)
    }
    if (seq < previous) {
      into.outOfOrder++
      if (into.examples.length < 10) into.examples.push(`${label}: seq ${seq} after ${previous}`)
    }
    seen.add(seq)
    previous = Math.max(previous, seq)
  }
  for (const seq of expected) {
    if (seen.has(seq)) continue
    into.lost++
    lost = true
    if (into.examples.length < 10) into.examples.push(`${label}: seq ${seq} lost`)
  }
  return lost
}

/** Sums the load processes' answers. */
export function mergeDeliveries(parts: Delivery[]): Delivery {
  const total = emptyDelivery()
  for (const part of parts) {
    for (const key of [
      'expected',
      'received',
      'lost',
      'duplicated',
      'outOfOrder',
      'unexpected',
      'clientsWithLoss',
    ] as const)
      total[key] += part[key]
    total.examples.push(...part.examples.slice(0, 10 - total.examples.length))
  }
  return total
}
