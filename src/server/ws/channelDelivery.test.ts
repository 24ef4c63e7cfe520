import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { publicationSeqs, publishOn, stillOpen, subscribe } from '../../../test/helpers/channels'
import { paced, range, until } from '../../../test/helpers/drill'
import { createManualClock } from '../../../test/helpers/manualClock'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import { CHANNEL_KEEP_LATEST } from '../channels/channelRetention'
import { sqlRunner } from '../db/sqlRunner'

// A channel's guarantee, the inbox's (docs/protocol.md §4): concurrent publications reach every subscriber
// once each in seq order; a subscriber that comes back with `since` gets exactly what it missed, then live
// ones; past the replay cap (or behind what retention kept) it gets channel_reset.

const REPLAY_CAP = 60
const clock = createManualClock()
let server: TestServer
const sockets: TestSocket[] = []

beforeAll(async () => {
  server = await startTestServer(
    {
      REPLAY_CAP: String(REPLAY_CAP),
      MAX_ANONYMOUS_CONNECTIONS_PER_IP: '100',
      WS_CONNECTIONS_PER_SECOND_PER_IP: '1000',
      ADMIN_RATE_PER_SECOND: '100000',
    },
    { clock },
  )
}, 60_000)
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await server?.stop()
}, 30_000)

const subscriber = async (channel: string, since?: number) => {
  const socket = connectSocket(server.wsUrl)
  sockets.push(socket)
  await socket.next('connected')
  const answer = await subscribe(socket, channel, { since })
  return { socket, answer }
}

/** Waits for `count` publications of `channel`, lets late duplicates arrive, and answers their seqs. */
async function seqsAfter(socket: TestSocket, channel: string, count: number) {
  await until(
    `${count} publications`,
    () => (publicationSeqs(socket, channel).length >= count ? true : undefined),
    20_000,
  )
  await stillOpen(socket)
  return publicationSeqs(socket, channel)
}

describe('delivery', () => {
  test('200 concurrent publications arrive with seq 1..200 exactly once on every subscriber', async () => {
    const channel = 'public:delivery-storm'
    const list = await Promise.all(range(1, 4).map(() => subscriber(channel)))
    const stored = await Promise.all(
      range(1, 200).map((i) => publishOn(server.url, ADMIN_KEY, channel, { i })),
    )
    expect(stored.map((p) => p.seq).sort((a, b) => a - b)).toEqual(range(1, 200))
    for (const { socket } of list) expect(await seqsAfter(socket, channel, 200)).toEqual(range(1, 200))
    // Each seq carries the data stored with it.
    const bySeq = new Map(stored.map((p) => [p.seq, p.data]))
    const received = list[0]!.socket.messages.filter((m) => m.type === 'publication') as unknown as {
      seq: number
      data: unknown
    }[]
    for (const publication of received) expect(publication.data).toEqual(bySeq.get(publication.seq))
  }, 60_000)

  test('a subscriber away for 50 publications (some during its reconnect) gets exactly those 50, in order, then live', async () => {
    const channel = 'public:delivery-away'
    const first = await subscriber(channel)
    for (let i = 0; i < 10; i++) await publishOn(server.url, ADMIN_KEY, channel, { i })
    const seen = await seqsAfter(first.socket, channel, 10)
    first.socket.close()
    await first.socket.closed
    // 11..40 while it is away, 41..60 while it reconnects and its replay runs.
    for (let i = 11; i <= 40; i++) await publishOn(server.url, ADMIN_KEY, channel, { i })
    const during = paced(20, 5, (i) => publishOn(server.url, ADMIN_KEY, channel, { i: 41 + i }))
    const back = await subscriber(channel, seen.at(-1))
    await during
    expect(back.answer).toMatchObject({ type: 'subscribed', channel })
    const answer = back.answer as unknown as { seq: number; replayed: number }
    expect(answer.replayed).toBe(answer.seq - 10)
    const seqs = await seqsAfter(back.socket, channel, 50)
    expect(seqs).toEqual(range(11, 60))
    // Replayed ones come before `subscribed`, live ones after it.
    const at = back.socket.messages.findIndex((m) => m.type === 'subscribed')
    const before = back.socket.messages.slice(0, at).filter((m) => m.type === 'publication').length
    expect(before).toBe(answer.replayed)
    await publishOn(server.url, ADMIN_KEY, channel, { live: true })
    expect(await seqsAfter(back.socket, channel, 51)).toEqual(range(11, 61))
  }, 60_000)

  test('more missing than REPLAY_CAP: channel_reset with the latest seq, then live', async () => {
    const channel = 'public:delivery-cap'
    for (let i = 0; i < REPLAY_CAP + 5; i++) await publishOn(server.url, ADMIN_KEY, channel, { i })
    const { socket, answer } = await subscriber(channel, 2)
    expect(answer).toEqual({ type: 'channel_reset', channel, seq: REPLAY_CAP + 5 })
    await publishOn(server.url, ADMIN_KEY, channel, { live: true })
    expect(await seqsAfter(socket, channel, 1)).toEqual([REPLAY_CAP + 6])
    // `since` ahead of the channel (another database's seqs): channel_reset too.
    const ahead = await subscriber(channel, 10_000)
    expect(ahead.answer).toEqual({ type: 'channel_reset', channel, seq: REPLAY_CAP + 6 })
  }, 60_000)

  test('subscribing twice answers twice, each with its own replay; the publications stay once each', async () => {
    const channel = 'public:delivery-twice'
    for (let i = 0; i < 3; i++) await publishOn(server.url, ADMIN_KEY, channel, { i })
    const { socket } = await subscriber(channel, 0)
    expect(await subscribe(socket, channel, { since: 1 })).toMatchObject({
      type: 'subscribed',
      seq: 3,
      replayed: 2,
    })
    expect(publicationSeqs(socket, channel)).toEqual([1, 2, 3, 2, 3])
    await publishOn(server.url, ADMIN_KEY, channel, {})
    expect((await seqsAfter(socket, channel, 6)).slice(5)).toEqual([4])
  })
})

describe('retention', () => {
  test(`publications older than CHANNEL_HISTORY_DAYS go, except each channel's latest ${CHANNEL_KEEP_LATEST}; a replay behind them resets`, async () => {
    const { db } = server.database
    const old = 'public:retention-old'
    const small = 'public:retention-small'
    // Written straight to the tables, 40 days before the server's clock: publishing 1,005 through the API is
    // slow on the embedded database, and the sweep reads only the rows.
    const at = new Date(clock.now() - 40 * 86_400_000).toISOString()
    await db.execute(sql`insert into channels (name, last_seq) values (${old}, 1005), (${small}, 3)`)
    await db.execute(sql`insert into channel_publications (channel, seq, data, published_at)
      select ${old}, s, jsonb_build_object('i', s), ${at}::timestamptz from generate_series(1, 1005) s`)
    await db.execute(sql`insert into channel_publications (channel, seq, data, published_at)
      select ${small}, s, '{}'::jsonb, ${at}::timestamptz from generate_series(1, 3) s`)
    const recent = await publishOn(server.url, ADMIN_KEY, old, { recent: true })
    expect(recent.seq).toBe(1006)
    const retention = server.herald.testHooks.channelRetention
    expect(await retention.sweep()).toBe(6)
    expect(await retention.sweep()).toBe(0)
    const runner = sqlRunner(db)
    const seqsOf = async (channel: string) =>
      (
        await runner.query<{ lo: number; hi: number; n: number }>(
          'select min(seq)::int as lo, max(seq)::int as hi, count(*)::int as n from channel_publications where channel = $1',
          [channel],
        )
      )[0]
    expect(await seqsOf(old)).toEqual({ lo: 7, hi: 1006, n: 1000 })
    expect(await seqsOf(small)).toEqual({ lo: 1, hi: 3, n: 3 })
    // A subscriber behind what was kept cannot be replayed exactly: channel_reset, and the history starts at 7.
    const { answer } = await subscriber(old, 3)
    expect(answer).toEqual({ type: 'channel_reset', channel: old, seq: 1006 })
    const exact = await subscriber(old, 1000)
    expect(exact.answer).toMatchObject({ type: 'subscribed', seq: 1006, replayed: 6 })
  }, 60_000)
})
