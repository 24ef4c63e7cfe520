import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { RedisClient } from 'bun'
import postgres from 'postgres'
import { ANVIL_KEYS, startTestChain, type TestChain } from '../../../test/helpers/anvil'
import {
  connectResumed as connectResumedSocket,
  latestSeq,
  notificationsOf,
  paced,
  range,
  seqsOf,
  tempDirs,
  until,
} from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { redisAnswers, TEST_REDIS } from '../../../test/helpers/redis'
import { createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, signIn } from '../../../test/helpers/wallet'
import { connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'

/**
 * "Many server instances and workers on one PostgreSQL" (docs/deploy.md), as real OS processes: two
 * ROLE=server instances and a ROLE=worker on one database and one chain, the PostgreSQL bus between them.
 * Then the same delivery over the Redis bus. Covers delivery to every connection of a user on every instance,
 * broadcasts, a deployment reported across instances, resume on another instance, a killed instance, a
 * dropped LISTEN connection, a dropped Redis subscriber and NOTIFY payloads too large for NOTIFY.
 * Only with HERALD_TEST_DATABASE_URL; the Redis part also needs Redis at 127.0.0.1:6379 answering PING.
 */

const REDIS_URL = TEST_REDIS.url
const ADMIN_KEY = 'scale-out-admin-key-0123456789abcdef'
const BUS_APPLICATION_NAME = 'herald-bus' // createPostgresBus's LISTEN connection

const redisUp = usingPostgres() ? await redisAnswers() : false

// ── Shared helpers ───────────────────────────────────────────────────────────────────────────────────

const dirs = tempDirs('herald-scale-')
const dataDir = () => dirs.make()

/** Every socket a test opened, closed in afterAll whatever happened. */
const sockets: TestSocket[] = []

/** Stores a notification through an instance's admin API. */
async function publish(url: string, userId: string, label: string, data?: unknown): Promise<Notification> {
  const response = await fetch(`${url}/api/admin/notifications`, {
    method: 'POST',
    headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
    body: JSON.stringify({ userId, type: 'scale_test', title: label, message: `message ${label}`, data }),
  })
  if (response.status !== 201)
    throw new Error(`publish via ${url}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { notification: Notification }).notification
}

async function broadcast(url: string, message: Record<string, unknown>) {
  const response = await fetch(`${url}/api/admin/broadcast`, {
    method: 'POST',
    headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
    body: JSON.stringify({ message }),
  })
  expect(response.status).toBe(202)
}

/** drill's connectResumed (which closes a socket whose handshake fails), kept for afterAll to close. */
async function connectResumed(wsUrl: string, token: string, since = 0): Promise<TestSocket> {
  const socket = await connectResumedSocket(wsUrl, token, since)
  sockets.push(socket)
  return socket
}

async function connectAnonymous(wsUrl: string): Promise<TestSocket> {
  const socket = connectSocket(wsUrl)
  sockets.push(socket)
  await socket.opened
  await socket.next('connected')
  return socket
}

/** Waits until each socket has `count` notifications, lets late duplicates arrive, then checks 1..count. */
async function expectAll(list: TestSocket[], count: number, timeoutMs = 10_000, from = 1) {
  await Promise.all(list.map((socket) => socket.collect('notification', count, timeoutMs)))
  await Bun.sleep(300)
  for (const socket of list) expect(seqsOf(socket)).toEqual(range(from, from + count - 1))
}

/** Two instances' delivery checks, shared by both buses. */
async function deliveryOnBoth(a: HeraldProcess, b: HeraldProcess) {
  const alice = await signIn(a.url)
  const bob = await signIn(b.url)
  const aliceA = await connectResumed(a.wsUrl, alice.token)
  const aliceB = await connectResumed(b.wsUrl, alice.token)
  const bobA = await connectResumed(a.wsUrl, bob.token)
  const bobB = await connectResumed(b.wsUrl, bob.token)
  const stored: Notification[] = []
  // Through both instances at once, so commits interleave.
  for (let i = 0; i < 10; i++) {
    stored.push(
      ...(await Promise.all([
        publish(a.url, alice.user.id, `a${i}`),
        publish(b.url, alice.user.id, `b${i}`),
        publish(i % 2 ? a.url : b.url, bob.user.id, `bob${i}`),
      ])),
    )
  }
  await expectAll([aliceA, aliceB], 20)
  await expectAll([bobA, bobB], 10)
  const aliceIds = stored
    .filter((n) => !n.title.startsWith('bob'))
    .sort((x, y) => x.seq - y.seq)
    .map((n) => n.id)
  expect(notificationsOf(aliceA).map((n) => n.id)).toEqual(aliceIds)
  expect(notificationsOf(aliceB).map((n) => n.id)).toEqual(aliceIds)
  for (const socket of [aliceA, aliceB, bobA, bobB]) socket.close()
}

async function broadcastToAll(a: HeraldProcess, b: HeraldProcess) {
  const carol = await signIn(b.url)
  const list = [
    await connectResumed(a.wsUrl, carol.token),
    await connectResumed(b.wsUrl, carol.token),
    await connectAnonymous(a.wsUrl),
    await connectAnonymous(b.wsUrl),
  ]
  const tag = crypto.randomUUID()
  await broadcast(a.url, { type: 'announcement', tag, from: 'a' })
  await broadcast(b.url, { type: 'announcement', tag, from: 'b' })
  // Only this run's: every Herald on the same Redis shares its channel, another test run's included.
  const ours = (socket: TestSocket) =>
    socket.messages.filter((m) => m.type === 'announcement' && (m as { tag?: string }).tag === tag)
  await Promise.all(
    list.map((socket) => until('both broadcasts', () => (ours(socket).length >= 2 ? true : undefined))),
  )
  await Bun.sleep(300)
  for (const socket of list) {
    expect(
      ours(socket)
        .map((m) => (m as { from?: string }).from)
        .sort(),
    ).toEqual(['a', 'b'])
  }
  for (const socket of list) socket.close()
}

async function resumeElsewhere(a: HeraldProcess, b: HeraldProcess) {
  const dave = await signIn(a.url)
  const onA = await connectResumed(a.wsUrl, dave.token)
  for (let i = 1; i <= 3; i++) await publish(b.url, dave.user.id, `before ${i}`)
  await expectAll([onA], 3)
  onA.close()
  await onA.closed
  // Missed while away: 4..8, through both instances.
  for (let i = 4; i <= 8; i++) await publish(i % 2 ? a.url : b.url, dave.user.id, `missed ${i}`)
  // 9..13 are created while the client reconnects to B and its replay runs.
  const during = paced(5, 15, (i) => publish(i % 2 ? a.url : b.url, dave.user.id, `during ${i}`))
  const onB = await connectResumed(b.wsUrl, dave.token, 3)
  await during
  await publish(a.url, dave.user.id, 'live 14')
  await publish(b.url, dave.user.id, 'live 15')
  await expectAll([onB], 12, 10_000, 4)
  const resumedAt = onB.messages.findIndex((m) => m.type === 'resumed')
  const resumed = onB.messages[resumedAt] as { since: number; replayed: number; seq: number }
  const replayed = onB.messages
    .slice(0, resumedAt)
    .filter((m) => m.type === 'notification')
    .map((m) => (m as { notification: Notification }).notification.seq)
  // Everything missed (4..8) is in the replay; the replay ends at the seq `resumed` names.
  expect(resumed.since).toBe(3)
  expect(replayed).toEqual(range(4, 3 + resumed.replayed))
  expect(resumed.replayed).toBeGreaterThanOrEqual(5)
  expect(resumed.seq).toBe(3 + resumed.replayed)
  onB.close()
}

const outputOf = (processes: (HeraldProcess | undefined)[]) =>
  processes.map((p) => p?.output() ?? '').join('\n')

async function withDiagnostics(processes: () => (HeraldProcess | undefined)[], body: () => Promise<void>) {
  try {
    await body()
  } catch (error) {
    console.error(outputOf(processes()))
    throw error
  }
}

afterAll(() => {
  for (const socket of sockets) socket.close()
  dirs.cleanup()
})

// ── PostgreSQL LISTEN/NOTIFY ─────────────────────────────────────────────────────────────────────────

describe.skipIf(!usingPostgres())('two servers and a worker on one PostgreSQL (LISTEN/NOTIFY bus)', () => {
  let anvil: TestChain | undefined
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>> | undefined
  let sql: postgres.Sql | undefined
  let a: HeraldProcess | undefined
  let b: HeraldProcess | undefined
  let worker: HeraldProcess | undefined
  const all = () => [a, b, worker]

  beforeAll(async () => {
    anvil = await startTestChain()
    database = await createTestDatabaseUrl()
    const shared = {
      DATABASE_URL: database.url,
      CHAIN_RPC_URL: anvil.rpcUrl,
      HERALD_ADMIN_KEY: ADMIN_KEY,
      BUS: 'postgres',
    }
    const started = await Promise.allSettled([
      spawnHerald({ ...shared, ROLE: 'server', DATA_DIR: dataDir() }, { label: 'server A' }),
      spawnHerald({ ...shared, ROLE: 'server', DATA_DIR: dataDir() }, { label: 'server B' }),
      spawnHerald(
        { ...shared, ROLE: 'worker', DATA_DIR: dataDir(), DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0] },
        { label: 'worker' },
      ),
    ])
    if (started[0].status === 'fulfilled') a = started[0].value
    if (started[1].status === 'fulfilled') b = started[1].value
    if (started[2].status === 'fulfilled') worker = started[2].value
    for (const result of started) if (result.status === 'rejected') throw result.reason
    expect(a!.url).not.toBe(b!.url)
    sql = postgres(database.url, { max: 2, onnotice: () => {} })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(all().map((p) => p?.kill('SIGKILL')))
    await sql?.end({ timeout: 2 })
    await database?.drop()
    await anvil?.stop()
  }, 30_000)

  /** The LISTEN connections of the Herald processes on this test's database. */
  const busConnections = async () =>
    Number(
      (
        await sql!`select count(*)::int as n from pg_stat_activity
          where application_name = ${BUS_APPLICATION_NAME} and datname = current_database()`
      )[0]!.n,
    )
  const payloadRows = async () => Number((await sql!`select count(*)::int as n from bus_payloads`)[0]!.n)

  test(
    'a notification published through either instance reaches every connection of its user, once, in seq order',
    () => withDiagnostics(all, () => deliveryOnBoth(a!, b!)),
    30_000,
  )

  test(
    'a broadcast through either instance reaches every connection on both instances',
    () => withDiagnostics(all, () => broadcastToAll(a!, b!)),
    20_000,
  )

  test(
    'a deployment requested through B reports every step to the user listening on A',
    () =>
      withDiagnostics(all, async () => {
        const session = await signIn(b!.url)
        const socket = await connectResumed(a!.wsUrl, session.token)
        const response = await fetch(`${b!.url}/api/tokens`, {
          method: 'POST',
          headers: { ...bearer(session.token), 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Scale Token', symbol: 'SCALE', initialSupply: '1000' }),
        })
        expect(response.status).toBe(202)
        const { jobId } = (await response.json()) as { jobId: string }
        await socket.next(
          (m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'completed',
          30_000,
        )
        // Every step: nothing after "completed" may be missing either.
        await socket.collect('notification', 3, 5000)
        const statuses = socket.messages
          .filter((m) => m.type === 'job_status' && m.jobId === jobId && !('progress' in m))
          .map((m) => (m as { status?: string }).status)
        expect(statuses).toEqual(['pending', 'running', 'completed'])
        const notices = notificationsOf(socket)
        expect(notices.map((n) => n.type)).toEqual([
          'token_deployment_started',
          'token_deployment_pending',
          'token_deployment_success',
        ])
        expect(notices.map((n) => n.seq)).toEqual([1, 2, 3])
        const success = notices[2]!.data as { address: string }
        const updates = socket.messages.filter((m) => m.type === 'data_update')
        expect(updates).toHaveLength(1)
        expect(updates[0]).toMatchObject({
          entity: 'token',
          action: 'created',
          data: { address: success.address },
        })
        const updateAt = socket.messages.findIndex((m) => m.type === 'data_update')
        const completedAt = socket.messages.findIndex(
          (m) => m.type === 'job_status' && m.status === 'completed',
        )
        expect(updateAt).toBeLessThan(completedAt)
        socket.close()
      }),
    45_000,
  )

  test(
    'a client that leaves A and resumes on B gets exactly what it missed, in order, then live ones',
    () => withDiagnostics(all, () => resumeElsewhere(a!, b!)),
    30_000,
  )

  test(
    'payloads over 8000 bytes (notification data and broadcasts) cross instances by id',
    () =>
      withDiagnostics(all, async () => {
        const erin = await signIn(a!.url)
        const onA = await connectResumed(a!.wsUrl, erin.token)
        const onB = await connectResumed(b!.wsUrl, erin.token)
        const anonymousA = await connectAnonymous(a!.wsUrl)
        const before = await payloadRows()
        const data = {
          blob: 'ü'.repeat(5000), // 10,000 bytes in UTF-8
          items: Array.from({ length: 100 }, (_, i) => ({ i, text: `item ${i} `.repeat(10) })),
        }
        expect(Buffer.byteLength(JSON.stringify(data))).toBeGreaterThan(19_000)
        await publish(b!.url, erin.user.id, 'small before')
        const big = await publish(b!.url, erin.user.id, 'big', data)
        await publish(a!.url, erin.user.id, 'small after')
        await expectAll([onA, onB], 3)
        for (const socket of [onA, onB]) {
          const received = notificationsOf(socket)[1]!
          expect(received.id).toBe(big.id)
          expect(received.data).toEqual(data)
        }
        const message = { type: 'big_announcement', blob: 'x'.repeat(20_000) }
        await broadcast(b!.url, message)
        await anonymousA.next('big_announcement', 5000)
        expect(anonymousA.messages.filter((m) => m.type === 'big_announcement')).toEqual([message])
        // Both went by id: too large for NOTIFY.
        const after = await payloadRows()
        expect(after - before).toBe(2)
        for (const socket of [onA, onB, anonymousA]) socket.close()
      }),
    30_000,
  )

  test(
    'the LISTEN connections are terminated, and kept down, while notifications are created: they come back and resync, nothing is lost or repeated',
    () =>
      withDiagnostics(all, async () => {
        // One LISTEN connection per process: A, B and the worker.
        expect(await busConnections()).toBe(3)
        const frank = await signIn(a!.url)
        const grace = await signIn(b!.url)
        const frankSockets = [
          await connectResumed(a!.wsUrl, frank.token),
          await connectResumed(b!.wsUrl, frank.token),
        ]
        const graceSockets = [await connectResumed(b!.wsUrl, grace.token)]
        let terminated = 0
        const terminate = async () => {
          const rows = await sql!`select pg_terminate_backend(pid) as ok from pg_stat_activity
          where application_name = ${BUS_APPLICATION_NAME} and datname = current_database()`
          terminated += rows.filter((row) => row.ok).length
        }
        const creating = paced(40, 10, (i) =>
          Promise.all([
            publish(i % 2 ? a!.url : b!.url, frank.user.id, `frank ${i}`),
            publish(i % 2 ? b!.url : a!.url, grace.user.id, `grace ${i}`),
          ]),
        )
        const dropping = paced(3, 250, () => terminate())
        await Promise.all([creating, dropping])
        expect(terminated).toBeGreaterThanOrEqual(3)
        await expectAll(frankSockets, 40)
        await expectAll(graceSockets, 40)

        // Down for a while, deterministically: the database refuses new connections, so postgres-js cannot
        // re-LISTEN; what commits meanwhile is never NOTIFYed to anyone, and nothing follows it to reveal a
        // gap. Only the resync after the LISTEN is back can deliver it. (Open pool connections keep working.)
        const [{ name }] = (await sql!`select current_database() as name`) as unknown as [{ name: string }]
        // A database's own connections may not disallow connections to it: the server's admin database does.
        const admin = postgres(process.env.HERALD_TEST_DATABASE_URL!, { max: 1, onnotice: () => {} })
        try {
          await admin.unsafe(`alter database "${name}" with allow_connections false`)
          try {
            await terminate()
            await until('no LISTEN connection', async () =>
              (await busConnections()) === 0 ? true : undefined,
            )
            await publish(a!.url, frank.user.id, 'frank while down')
            await publish(b!.url, grace.user.id, 'grace while down')
            expect(await busConnections()).toBe(0)
            await Bun.sleep(300)
          } finally {
            await admin.unsafe(`alter database "${name}" with allow_connections true`)
          }
        } finally {
          await admin.end({ timeout: 2 })
        }
        await expectAll(frankSockets, 41, 10_000)
        await expectAll(graceSockets, 41, 10_000)

        // postgres-js re-LISTENed on every process: a new notification arrives live on both instances (no gap,
        // so nothing but the bus can bring it).
        await until('three LISTEN connections again', async () =>
          (await busConnections()) === 3 ? true : undefined,
        )
        await publish(b!.url, frank.user.id, 'frank live')
        await publish(a!.url, grace.user.id, 'grace live')
        await expectAll(frankSockets, 42, 3000)
        await expectAll(graceSockets, 42, 3000)
        for (const socket of [...frankSockets, ...graceSockets]) socket.close()
      }),
    45_000,
  )

  // Last: A does not come back.
  test(
    'SIGKILL of instance A while notifications are created: its clients resume on B and lose nothing',
    () =>
      withDiagnostics(all, async () => {
        const users = [await signIn(a!.url), await signIn(b!.url), await signIn(a!.url)]
        /** A client like the SDK's: on A until it drops, then on B, resuming from the last seq it saw. */
        const followers = await Promise.all(
          users.map(async (session) => {
            const onA = await connectResumed(a!.wsUrl, session.token)
            const list = [onA]
            const seqs = () => list.flatMap(seqsOf)
            const moved = onA.closed.then(async () => {
              list.push(await connectResumed(b!.wsUrl, session.token, seqs().at(-1) ?? 0))
            })
            moved.catch(() => {})
            return { session, list, seqs, moved }
          }),
        )
        // The first user also has a socket on B all along.
        const steady = await connectResumed(b!.wsUrl, users[0]!.token)
        let aAlive = true
        const creating = paced(30, 15, async (i) => {
          if (i === 10) {
            aAlive = false
            a!.proc.kill('SIGKILL')
          }
          // Through A while it lives (a request cut off by the kill may or may not have committed).
          await Promise.allSettled(
            users.map((session, u) =>
              publish(aAlive && (i + u) % 2 ? a!.url : b!.url, session.user.id, `kill ${i}`),
            ),
          )
        })
        expect(await a!.exited).toEqual({ code: null, signal: 'SIGKILL' })
        await creating
        await Promise.all(followers.map((f) => f.moved))
        for (const follower of followers) {
          const n = await latestSeq(b!.url, follower.session)
          expect(n).toBeGreaterThanOrEqual(20)
          await until(
            `${n} notifications for ${follower.session.user.id}`,
            () => (follower.seqs().length >= n ? true : undefined),
            10_000,
          )
          await Bun.sleep(300)
          expect(follower.seqs()).toEqual(range(1, n))
          expect(follower.list).toHaveLength(2)
        }
        await expectAll([steady], await latestSeq(b!.url, users[0]!))
        for (const follower of followers) for (const socket of follower.list) socket.close()
        steady.close()
      }),
    45_000,
  )
})

// ── Redis pub/sub ────────────────────────────────────────────────────────────────────────────────────

describe.skipIf(!redisUp)('two servers on one PostgreSQL with the Redis bus', () => {
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>> | undefined
  let a: HeraldProcess | undefined
  let b: HeraldProcess | undefined
  let redis: RedisClient | undefined
  const all = () => [a, b]

  beforeAll(async () => {
    database = await createTestDatabaseUrl()
    const shared = {
      DATABASE_URL: database.url,
      HERALD_ADMIN_KEY: ADMIN_KEY,
      BUS: 'redis',
      REDIS_URL,
      ROLE: 'server',
    }
    const started = await Promise.allSettled([
      spawnHerald({ ...shared, DATA_DIR: dataDir() }, { label: 'redis A' }),
      spawnHerald({ ...shared, DATA_DIR: dataDir() }, { label: 'redis B' }),
    ])
    if (started[0].status === 'fulfilled') a = started[0].value
    if (started[1].status === 'fulfilled') b = started[1].value
    for (const result of started) if (result.status === 'rejected') throw result.reason
    // The Redis channel is shared by every Herald on this Redis (another test run, say) and user ids start at
    // 1 in every database: start ours far away so no other run's events can match our users.
    const sql = postgres(database.url, { max: 1, onnotice: () => {} })
    try {
      const start = 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000)
      await sql`select setval(pg_get_serial_sequence('users', 'id'), ${start})`
    } finally {
      await sql.end({ timeout: 2 })
    }
    redis = new RedisClient(REDIS_URL)
    await redis.connect()
  }, 60_000)

  afterAll(async () => {
    await Promise.all(all().map((p) => p?.kill('SIGKILL')))
    redis?.close()
    await database?.drop()
  }, 30_000)

  test(
    'a notification published through either instance reaches every connection of its user, once, in seq order',
    () => withDiagnostics(all, () => deliveryOnBoth(a!, b!)),
    30_000,
  )

  test(
    'a broadcast through either instance reaches every connection on both instances',
    () => withDiagnostics(all, () => broadcastToAll(a!, b!)),
    20_000,
  )

  test(
    'a client that leaves A and resumes on B gets exactly what it missed, in order, then live ones',
    () => withDiagnostics(all, () => resumeElsewhere(a!, b!)),
    30_000,
  )

  test(
    'the subscribers are killed (CLIENT KILL TYPE pubsub) while notifications are created: every one arrives once',
    () =>
      withDiagnostics(all, async () => {
        const subscribers = async () => {
          const reply = (await redis!.send('PUBSUB', ['NUMSUB', 'herald:bus'])) as [string, number]
          return Number(reply[1])
        }
        expect(await subscribers()).toBeGreaterThanOrEqual(2)
        const henry = await signIn(a!.url)
        const iris = await signIn(b!.url)
        const henrySockets = [
          await connectResumed(a!.wsUrl, henry.token),
          await connectResumed(b!.wsUrl, henry.token),
        ]
        const irisSockets = [await connectResumed(a!.wsUrl, iris.token)]
        let killed = 0
        const kill = async () => {
          killed += Number(await redis!.send('CLIENT', ['KILL', 'TYPE', 'pubsub']))
        }
        const creating = paced(40, 10, (i) =>
          Promise.all([
            publish(i % 2 ? a!.url : b!.url, henry.user.id, `henry ${i}`),
            publish(i % 2 ? b!.url : a!.url, iris.user.id, `iris ${i}`),
          ]),
        )
        const dropping = paced(3, 250, () => kill())
        await Promise.all([creating, dropping])
        expect(killed).toBeGreaterThanOrEqual(2)
        await expectAll(henrySockets, 40)
        await expectAll(irisSockets, 40)

        // Killed again with one notification each right behind (the subscribers wait at least 50 ms before
        // reconnecting) and nothing after it to reveal a gap: only the resync after the reconnect delivers it.
        await until('both subscribers back', async () => ((await subscribers()) >= 2 ? true : undefined))
        await kill()
        await Promise.all([
          publish(a!.url, henry.user.id, 'henry while down'),
          publish(b!.url, iris.user.id, 'iris while down'),
        ])
        await expectAll(henrySockets, 41)
        await expectAll(irisSockets, 41)
        // Both subscribers are back: a new notification arrives live.
        await until('both subscribers back', async () => ((await subscribers()) >= 2 ? true : undefined))
        await publish(b!.url, henry.user.id, 'henry live')
        await publish(a!.url, iris.user.id, 'iris live')
        await expectAll(henrySockets, 42, 3000)
        await expectAll(irisSockets, 42, 3000)
        for (const socket of [...henrySockets, ...irisSockets]) socket.close()
      }),
    45_000,
  )
})

// The same deliveries with REDIS_SHARDED_PUBSUB: a user's events travel on their shard, which an instance
// follows only while it holds one of that shard's users.
describe.skipIf(!redisUp)('two servers on one PostgreSQL with the Redis bus, sharded pub/sub', () => {
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>> | undefined
  let a: HeraldProcess | undefined
  let b: HeraldProcess | undefined
  const all = () => [a, b]

  beforeAll(async () => {
    database = await createTestDatabaseUrl()
    const shared = {
      DATABASE_URL: database.url,
      HERALD_ADMIN_KEY: ADMIN_KEY,
      BUS: 'redis',
      REDIS_URL,
      REDIS_CHANNEL: `herald:test:${crypto.randomUUID()}`,
      REDIS_SHARDED_PUBSUB: 'true',
      ROLE: 'server',
    }
    a = await spawnHerald({ ...shared, DATA_DIR: dataDir() }, { label: 'sharded A' })
    b = await spawnHerald({ ...shared, DATA_DIR: dataDir() }, { label: 'sharded B' })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(all().map((p) => p?.kill('SIGKILL')))
    await database?.drop()
  }, 30_000)

  test(
    'a notification published through either instance reaches every connection of its user, once, in seq order',
    () => withDiagnostics(all, () => deliveryOnBoth(a!, b!)),
    30_000,
  )
  test(
    'a broadcast through either instance reaches every connection on both instances',
    () => withDiagnostics(all, () => broadcastToAll(a!, b!)),
    20_000,
  )
  test(
    'a client that leaves A and resumes on B gets exactly what it missed, in order, then live ones',
    () => withDiagnostics(all, () => resumeElsewhere(a!, b!)),
    30_000,
  )
})
