import { now, sleep } from './clock'
import type { Child } from './control'
import { allStormChannels, type Expected } from './stormStreams'
import type { BenchUser } from './users'

/**
 * The restart storm's publisher: a round every `roundMs` publishes once on every storm channel and sends a
 * notification to a twentieth of the users (another twentieth each round), through a second server instance that
 * stays up while the main one restarts. It keeps what was published, in order, for the check.
 */
export interface StormPublisher {
  run(roundMs: number): { stop(): Promise<void> }
  expected(): Expected
  published(): { rounds: number; channel: number; notifications: number; failed: number; firstError?: string }
}

/** Users notified per round: those with index ≡ round (mod USER_GROUPS). */
const USER_GROUPS = 20
/** A bound on the loop whatever happens to the stop. */
const MAX_ROUNDS = 2_000

function publisherLoop(round: (r: number) => Promise<void>) {
  return (roundMs: number) => {
    let stopped = false
    const loop = (async () => {
      for (let r = 0; r < MAX_ROUNDS && !stopped; r++) {
        const started = now()
        await round(r)
        await sleep(Math.max(0, roundMs - (now() - started)))
      }
    })()
    return {
      async stop() {
        stopped = true
        await loop
      },
    }
  }
}

function tally() {
  const expected: Expected = { channels: {}, users: {} }
  const counts = { rounds: 0, channel: 0, notifications: 0, failed: 0 } as ReturnType<
    StormPublisher['published']
  >
  return {
    expected,
    counts,
    channel(name: string, seq: number) {
      expected.channels[name] ??= []
      expected.channels[name].push(seq)
      counts.channel++
    },
    user(userId: string, seq: number) {
      expected.users[userId] ??= []
      expected.users[userId].push(seq)
      counts.notifications++
    },
    failed(error: unknown) {
      counts.failed++
      counts.firstError ??= String(error)
    },
  }
}

const sortAll = (lists: Record<string, number[]>) => {
  for (const list of Object.values(lists)) list.sort((a, b) => a - b)
}

/** Herald: the admin routes of the second instance (same database, BUS=postgres). */
export function heraldPublisher(baseUrl: string, adminKey: string, users: BenchUser[]): StormPublisher {
  const t = tally()
  const channels = allStormChannels()
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
    if (response.status !== 201) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`)
    return response.json()
  }
  const round = async (r: number) => {
    t.counts.rounds++
    const recipients = users.filter((_, i) => i % USER_GROUPS === r % USER_GROUPS)
    const batches: BenchUser[][] = []
    for (let i = 0; i < recipients.length; i += 1000) batches.push(recipients.slice(i, i + 1000))
    await Promise.all([
      ...channels.map((channel) =>
        post(`/api/admin/channels/${encodeURIComponent(channel)}/publications`, { data: { round: r } }).then(
          (answer: { publication: { seq: number } }) => t.channel(channel, answer.publication.seq),
          t.failed,
        ),
      ),
      ...batches.map((batch) =>
        post('/api/admin/notifications/batch', {
          recipients: batch.map((user) => ({ userId: user.userId })),
          notification: { type: 'storm', title: 'Storm', message: `Round ${r}`, data: { round: r } },
        }).then((answer: { results: { userId: string; notification: { seq: number } | null }[] }) => {
          for (const stored of answer.results)
            if (stored.notification) t.user(stored.userId, stored.notification.seq)
        }, t.failed),
      ),
    ])
  }
  return {
    run: publisherLoop(round),
    expected() {
      sortAll(t.expected.channels)
      sortAll(t.expected.users)
      return t.expected
    },
    published: () => ({ ...t.counts }),
  }
}

/** Socket.IO: the second server on the same Redis stream emits; each room and user numbers its events. */
export function socketIoPublisher(second: Child, users: BenchUser[]): StormPublisher {
  const t = tally()
  const channels = allStormChannels()
  const next = new Map<string, number>()
  const number = (key: string) => {
    const n = (next.get(key) ?? 0) + 1
    next.set(key, n)
    return n
  }
  const round = async (r: number) => {
    t.counts.rounds++
    const rooms = channels.map((room) => [room, number(room)] as [string, number])
    const recipients = users
      .filter((_, i) => i % USER_GROUPS === r % USER_GROUPS)
      .map((user) => [user.userId, number(`u:${user.userId}`)] as [string, number])
    try {
      await second.request('round', { rooms, users: recipients }, 30_000)
      for (const [room, n] of rooms) t.channel(room, n)
      for (const [userId, n] of recipients) t.user(userId, n)
    } catch (error) {
      t.failed(error)
    }
  }
  return {
    run: publisherLoop(round),
    expected: () => t.expected,
    published: () => ({ ...t.counts }),
  }
}
