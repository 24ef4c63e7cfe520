// Which store should hold channel presence across instances? This measures the three candidates doing the same
// work: N presence changes (a user's first connection on a channel, on one instance) made known to the cluster,
// with the join decided once for the cluster.
//
// - table: a PostgreSQL table of (instance, channel, user, connections) with heartbeats. Each change is a
//   transaction: an advisory lock on (channel, user) so two instances cannot both decide "first", the upsert,
//   the user's total over instances, and a NOTIFY of the join (the table stores; the bus must still carry it).
//   Measured one change per transaction and 100 per transaction, 8 at a time.
// - redis: a Redis hash per channel; HINCRBY answers the user's new total, 1 meaning a join, then a PUBLISH of
//   it. Pipelined, 8 at a time.
// - bus (what Herald does): src/server/channels/createPresence on two instances in this process, each with its
//   own bus connection; changes are batched per turn of the event loop into one bus message. Measured from the
//   first change on instance 1 to instance 2 counting all N, on the PostgreSQL bus and on the Redis bus.
// Also the latency of one change: until the other instance (or the notified listener) has the join.
//
//   bun bench/presenceStore.ts --database-url postgres://postgres@127.0.0.1:5432/test [--redis-url redis://127.0.0.1:6379] [--changes 5000]
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { RedisClient } from 'bun'
import postgres from 'postgres'
import { createPostgresBus } from '../src/server/bus/createPostgresBus'
import { createRedisBus } from '../src/server/bus/createRedisBus'
import type { Bus } from '../src/server/bus/types'
import { createPresence, type Presence } from '../src/server/channels/createPresence'
import { openDatabase } from '../src/server/db/openDatabase'
import { systemClock } from '../src/server/time/clock'

const { values: options } = parseArgs({
  options: {
    'database-url': { type: 'string', default: process.env.HERALD_TEST_DATABASE_URL },
    'redis-url': { type: 'string', default: process.env.REDIS_URL },
    changes: { type: 'string', default: '5000' },
    samples: { type: 'string', default: '50' },
  },
})
const adminUrl = options['database-url']
if (!adminUrl) throw new Error('--database-url (or HERALD_TEST_DATABASE_URL) is required')
const N = Number(options.changes)
const SAMPLES = Number(options.samples)
const CHANNEL = 'private:bench'
const onError = (error: unknown, context: string) => console.error(context, error)

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
const ms = (value: number) => `${value.toFixed(2)} ms`
const rows: { store: string; changesPerSecond: number; p50: number; p99: number; note: string }[] = []

/** Runs `work(i)` for i in 0..count-1, `concurrency` at a time. */
async function pool(count: number, concurrency: number, work: (i: number) => Promise<unknown>) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await work(next++)
    }),
  )
}

const name = `herald_presence_bench_${randomBytes(4).toString('hex')}`
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const url = new URL(adminUrl)
url.pathname = `/${name}`
const databaseUrl = url.toString()

try {
  // ── table ───────────────────────────────────────────────────────────────────────────────────────────
  const sql = postgres(databaseUrl, { max: 8, onnotice: () => {} })
  await sql`create table presence_probe (instance text, channel text, user_id bigint, connections int,
    primary key (instance, channel, user_id))`
  await sql`create table presence_instances (id text primary key, heartbeat_at timestamptz)`
  await sql`insert into presence_instances values ('i1', now()), ('i2', now())`
  const change = (tx: postgres.TransactionSql, user: number) =>
    tx`select pg_advisory_xact_lock(hashtext(${CHANNEL} || ':' || ${user}::text))`
      .then(
        () => tx`insert into presence_probe values ('i1', ${CHANNEL}, ${user}, 1)
        on conflict (instance, channel, user_id) do update set connections = presence_probe.connections + 1`,
      )
      .then(
        () => tx`select coalesce(sum(p.connections), 0)::int as total from presence_probe p
          join presence_instances i on i.id = p.instance
          where p.channel = ${CHANNEL} and p.user_id = ${user} and i.heartbeat_at > now() - interval '30 seconds'`,
      )
      .then(([row]) => (row!.total === 1 ? tx`select pg_notify('presence_bench', ${String(user)})` : null))
  const listener = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  const notified = new Map<string, () => void>()
  await listener.listen('presence_bench', (payload) => notified.get(payload)?.())
  for (const perTransaction of [1, 100]) {
    await sql`truncate presence_probe`
    const started = performance.now()
    await pool(N / perTransaction, 8, (batch) =>
      sql.begin(async (tx) => {
        for (let k = 0; k < perTransaction; k++) await change(tx, batch * perTransaction + k)
      }),
    )
    const seconds = (performance.now() - started) / 1000
    const latencies: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      const user = 10_000_000 + perTransaction * 1000 + i
      const seen = new Promise<void>((resolve) => notified.set(String(user), resolve))
      const t0 = performance.now()
      await sql.begin((tx) => change(tx, user))
      await seen
      latencies.push(performance.now() - t0)
    }
    rows.push({
      store: `table (${perTransaction} per transaction)`,
      changesPerSecond: N / seconds,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      note: `${N / perTransaction} transactions with locks and upserts; the join still travels by NOTIFY`,
    })
  }
  await listener.end({ timeout: 2 })
  await sql.end({ timeout: 2 })

  // ── redis hash ──────────────────────────────────────────────────────────────────────────────────────
  const redisUrl = options['redis-url']
  if (redisUrl) {
    const redis = new RedisClient(redisUrl)
    const subscriber = new RedisClient(redisUrl)
    await redis.connect()
    await subscriber.connect()
    const key = `herald:presence-bench:${randomBytes(4).toString('hex')}`
    const waiting = new Map<string, () => void>()
    await subscriber.subscribe(`${key}:joins`, (message) => waiting.get(message)?.())
    const redisChange = async (user: number) => {
      const total = Number(await redis.send('HINCRBY', [key, String(user), '1']))
      if (total === 1) await redis.send('PUBLISH', [`${key}:joins`, String(user)])
    }
    const started = performance.now()
    await pool(N, 8, redisChange)
    const seconds = (performance.now() - started) / 1000
    const latencies: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      const user = 10_000_000 + i
      const seen = new Promise<void>((resolve) => waiting.set(String(user), resolve))
      const t0 = performance.now()
      await redisChange(user)
      await seen
      latencies.push(performance.now() - t0)
    }
    await redis.send('DEL', [key])
    redis.close()
    subscriber.close()
    rows.push({
      store: 'redis hash',
      changesPerSecond: N / seconds,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      note: 'HINCRBY + PUBLISH per change; TTL of a dead instance needs one hash per instance and a sweeper',
    })
  }

  // ── bus (Herald's presence) ─────────────────────────────────────────────────────────────────────────
  const database = await openDatabase({ databaseUrl, poolSize: 4 })
  const buses: [string, () => Bus][] = [
    ['PostgreSQL', () => createPostgresBus({ url: databaseUrl, db: database.db, onError })],
  ]
  if (redisUrl) {
    const channel = `herald:presence-bench:${randomBytes(4).toString('hex')}`
    buses.push(['Redis', () => createRedisBus({ url: redisUrl, channel, onError })])
  }
  for (const [label, make] of buses) {
    const busA = make()
    const busB = make()
    await busA.start()
    await busB.start()
    const one: Presence = createPresence({ bus: busA, clock: systemClock, ttlSeconds: 30, onError })
    const two: Presence = createPresence({ bus: busB, clock: systemClock, ttlSeconds: 30, onError })
    const joined = new Map<string, () => void>()
    two.listen((t) => {
      if (t.kind === 'join') joined.get(t.member.userId)?.()
    })
    one.start()
    two.start()
    await Bun.sleep(200)
    const allThere = new Promise<void>((resolve) => joined.set(String(N - 1), resolve))
    const started = performance.now()
    // 100 changes per turn of the event loop, as connections subscribing at a high rate would make them.
    for (let i = 0; i < N; i += 100) {
      for (let k = i; k < Math.min(N, i + 100); k++)
        one.add(CHANNEL, { userId: String(k), address: `0x${k}` })
      await new Promise((resolve) => setImmediate(resolve))
    }
    await allThere
    const seconds = (performance.now() - started) / 1000
    if (two.counts(CHANNEL).users !== N)
      throw new Error(`${label}: ${two.counts(CHANNEL).users} users, not ${N}`)
    const latencies: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      const user = String(10_000_000 + i)
      const seen = new Promise<void>((resolve) => joined.set(user, resolve))
      const t0 = performance.now()
      one.add(CHANNEL, { userId: user, address: '0x0' })
      await seen
      latencies.push(performance.now() - t0)
    }
    rows.push({
      store: `bus (${label})`,
      changesPerSecond: N / seconds,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      note: `${Math.ceil(N / 100)} bus messages, no database write; every instance applies every message`,
    })
    await one.stop()
    await two.stop()
    await busA.stop()
    await busB.stop()
  }
  await database.close()
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end({ timeout: 2 })
}

console.log(
  `\nPresence stores: ${N} changes (8 at a time where the store takes requests), latency of one change over ${SAMPLES}\n`,
)
console.log('| store | changes/s | one change, p50 | p99 | what it costs |')
console.log('| --- | ---: | ---: | ---: | --- |')
for (const row of rows)
  console.log(
    `| ${row.store} | ${Math.round(row.changesPerSecond).toLocaleString('en')} | ${ms(row.p50)} | ${ms(row.p99)} | ${row.note} |`,
  )
process.exit(0)
