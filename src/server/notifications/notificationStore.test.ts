import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestDatabase } from '../../../test/helpers/testDatabase'
import type { Notification } from '../../shared/protocol'
import { createInProcessBus } from '../bus/createInProcessBus'
import { createPostgresBus } from '../bus/createPostgresBus'
import { transact } from '../bus/transact'
import type { Bus, BusEvent } from '../bus/types'
import type { DatabaseHandle } from '../db/openDatabase'
import { jobs, notificationPreferences, users } from '../db/schema'
import { HeraldError } from '../errors'
import { createNotificationStore } from './createNotificationStore'

// Group commit: concurrent creations share statements, and still each get their own row, in order.

let database: DatabaseHandle
let bus: Bus
const events: BusEvent[] = []
const errors: unknown[] = []

beforeAll(async () => {
  database = await createTestDatabase()
  const onError = (error: unknown) => errors.push(error)
  bus =
    database.kind === 'postgres'
      ? createPostgresBus({ url: database.url!, db: database.db, onError })
      : createInProcessBus(onError)
  await bus.start()
  bus.subscribe({ onEvent: (event) => events.push(event) })
}, 30_000)
afterAll(async () => {
  await bus.stop()
  await database.close()
}, 30_000)

async function newUsers(n: number): Promise<string[]> {
  const rows = await database.db
    .insert(users)
    .values(Array.from({ length: n }, () => ({ address: `0x${crypto.randomUUID().replaceAll('-', '')}` })))
    .returning({ id: users.id })
  return rows.map((r) => String(r.id))
}

/** The bus delivers asynchronously (NOTIFY): wait for the events of these users, then take them. */
async function announced(userIds: string[], total: number): Promise<Notification[]> {
  const mine = () =>
    events.filter(
      (e): e is Extract<BusEvent, { kind: 'item' }> =>
        e.kind === 'item' && e.stream === 'inbox' && userIds.includes(e.key),
    )
  for (let i = 0; i < 500 && mine().length < total; i++) await Bun.sleep(10)
  return mine().map((e) => e.item as Notification)
}

const params = (userId: string, i: number) => ({
  userId,
  type: 'group.commit',
  title: `n${i}`,
  message: `message ${i}`,
  data: { i },
})

describe('createNotificationWriter', () => {
  test('reads since a seq and latest seqs asked in one turn (a reconnection storm) each get their own answer', async () => {
    const ids = await newUsers(4)
    const writer = createNotificationStore({ db: database.db, bus })
    const stored = new Map<string, Notification[]>()
    for (const [k, userId] of ids.entries()) {
      const own: Notification[] = []
      for (let i = 0; i < k * 3; i++) own.push(await writer.create(params(userId, i)))
      stored.set(userId, own)
    }
    // Asked together, so answered by one statement each for the reads and the latest seqs.
    const asks = ids.flatMap((userId) =>
      [0, 1, 4, 100].map((since) => ({ userId, since, limit: 2 + (since % 3) })),
    )
    const [reads, latest] = await Promise.all([
      Promise.all(asks.map((ask) => writer.source.loadSince(ask.userId, ask.since, ask.limit))),
      Promise.all([...ids, '999999999'].map((userId) => writer.source.latestSeq(userId))),
    ])
    for (const [i, ask] of asks.entries())
      expect(reads[i]).toEqual(
        stored
          .get(ask.userId)!
          .filter((n) => n.seq > ask.since)
          .slice(0, ask.limit),
      )
    expect(latest).toEqual([...ids.map((userId) => stored.get(userId)!.length), 0])
  })

  test('concurrent creations for the same and different users: each caller its own row, seqs gap-free, each announced once', async () => {
    const ids = await newUsers(5)
    const writer = createNotificationStore({ db: database.db, bus })
    const calls = Array.from({ length: 200 }, (_, i) => ({ ...params(ids[i % 3 === 0 ? 0 : i % 5]!, i) }))
    const created = await Promise.all(calls.map((call) => writer.create(call)))
    for (const [i, notification] of created.entries()) {
      expect(notification.title).toBe(calls[i]!.title)
      expect(notification.data).toEqual({ i })
      expect(notification.read).toBe(false)
    }
    expect(new Set(created.map((n) => n.id)).size).toBe(200)
    for (const userId of ids) {
      // Two batches may be stored at once, so seqs follow commit order rather than call order: gap-free.
      const own = created.filter((_, i) => calls[i]!.userId === userId).sort((x, y) => x.seq - y.seq)
      expect(own.map((n) => n.seq)).toEqual(own.map((_, k) => k + 1))
      // What the database holds is exactly what the callers were given.
      expect(await writer.source.loadSince(userId, 0, 1000)).toEqual(own)
    }
    // A caller that waits for one creation before the next gets increasing seqs.
    const [sequential] = await newUsers(1)
    const seqs: number[] = []
    for (let i = 0; i < 5; i++) seqs.push((await writer.create(params(sequential!, i))).seq)
    expect(seqs).toEqual([1, 2, 3, 4, 5])
    await announced([sequential!], 5)
    const pushed = await announced(ids, 200)
    expect(pushed.length).toBe(200)
    expect(new Set(pushed.map((n) => n.id)).size).toBe(200)
    expect([...pushed].sort((a, b) => Number(a.id) - Number(b.id))).toEqual(
      [...created].sort((a, b) => Number(a.id) - Number(b.id)),
    )
    expect(errors).toEqual([])
  })

  test('creations made together share one statement (one commit: one created_at)', async () => {
    const ids = await newUsers(2)
    const writer = createNotificationStore({ db: database.db, bus })
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) => writer.create(params(ids[i % 2]!, i))),
    )
    expect(new Set(created.map((n) => n.createdAt)).size).toBe(1)
    await announced(ids, 20)
  })

  test('an unknown user fails only its own caller (NOT_FOUND); the others in the same statement are stored', async () => {
    const [userId] = await newUsers(1)
    const writer = createNotificationStore({ db: database.db, bus })
    const results = await Promise.allSettled([
      writer.create(params(userId!, 1)),
      writer.create(params('987654321', 2)),
      writer.create(params(userId!, 3)),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    const rejected = results[1] as PromiseRejectedResult
    expect(rejected.reason).toBeInstanceOf(HeraldError)
    expect((rejected.reason as HeraldError).code).toBe('NOT_FOUND')
    const stored = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.seq)
    expect(stored).toEqual([1, 2])
    expect((await announced([userId!], 2)).map((n) => n.seq)).toEqual([1, 2])
  })

  test('publish checks preferences in the storing statement: suppressed (null), stored, critical and unknown users in one group', async () => {
    const [off, typeOff, none] = await newUsers(3)
    await database.db.insert(notificationPreferences).values([
      {
        userId: Number(off),
        preferences: { default: { inApp: false, push: true }, types: { on: { inApp: true, push: true } } },
      },
      {
        userId: Number(typeOff),
        preferences: { default: { inApp: true, push: true }, types: { muted: { inApp: false, push: true } } },
      },
    ])
    const store = createNotificationStore({ db: database.db, bus })
    const large = { blob: 'x'.repeat(9000) } // the statement that sends large events by reference
    const results = await Promise.allSettled([
      store.publish({ ...params(off!, 1), type: 'anything' }),
      store.publish({ ...params(off!, 2), type: 'on' }),
      store.publish({ ...params(off!, 3), type: 'anything', critical: true }),
      store.publish({ ...params(typeOff!, 4), type: 'muted', data: large }),
      store.publish({ ...params(typeOff!, 5), type: 'other', data: large }),
      store.publish({ ...params(none!, 6), type: 'muted' }),
      store.publish(params('987654323', 7)),
      store.create({ ...params(off!, 8), type: 'anything' }),
    ])
    const values = results.map((r) => (r.status === 'fulfilled' ? (r.value?.seq ?? null) : 'rejected'))
    // off: 2 (seq 1), 3 (seq 2), 8 stored by create whatever the preferences (seq 3); typeOff: 5; none: 6.
    expect(values).toEqual([null, 1, 2, null, 1, 1, 'rejected', 3])
    expect(((results[6] as PromiseRejectedResult).reason as HeraldError).code).toBe('NOT_FOUND')
    const seen = await announced([off!, typeOff!, none!], 5)
    expect(seen.map((n) => n.title).sort()).toEqual(['n2', 'n3', 'n5', 'n6', 'n8'])
  })

  // Without `within` and addresses a batch is one statement outside a transaction; with them, a transaction.
  test.each([
    ['one statement', false],
    ['a transaction (within)', true],
  ])(
    'createMany in %s checks preferences in its statement: suppressed entries answer in place and take no seq; critical and kept ones are gap-free; an unknown user stores nothing',
    async (_, withWithin) => {
      const [off, typeOff, none] = await newUsers(3)
      await database.db.insert(notificationPreferences).values([
        {
          userId: Number(off),
          preferences: { default: { inApp: false, push: true }, types: { on: { inApp: true, push: true } } },
        },
        {
          userId: Number(typeOff),
          preferences: {
            default: { inApp: true, push: true },
            types: { muted: { inApp: false, push: true } },
          },
        },
      ])
      const store = createNotificationStore({ db: database.db, bus })
      const large = { blob: 'x'.repeat(9000) } // the statement that sends large events by reference
      const entries = [
        { ...params(off!, 1), type: 'anything' },
        { ...params(off!, 2), type: 'on' },
        { ...params(typeOff!, 3), type: 'muted', data: large },
        { ...params(off!, 4), type: 'anything', critical: true },
        { ...params(typeOff!, 5), type: 'other', data: large },
        { ...params(none!, 6), type: 'muted' },
        { ...params(off!, 7), type: 'anything' },
        { ...params(off!, 8), type: 'on' },
      ]
      let recorded: unknown
      let ran = false
      const within = withWithin
        ? async (_: unknown, inside: unknown) => {
            ran = true
            recorded = structuredClone(inside)
          }
        : undefined
      const results = await store.createMany(entries, within)
      if (withWithin) expect(recorded).toEqual(results)
      expect(results.map((r) => r.userId)).toEqual(entries.map((e) => e.userId))
      expect(results.map((r) => r.notification?.seq ?? r.suppressed)).toEqual([
        'preference',
        1,
        'preference',
        2,
        1,
        1,
        'preference',
        3,
      ])
      for (const i of [0, 2, 6])
        expect(results[i]).toEqual({
          userId: entries[i]!.userId,
          notification: null,
          suppressed: 'preference',
        })
      expect(results.map((r) => r.notification?.title ?? null)).toEqual([
        null,
        'n2',
        null,
        'n4',
        'n5',
        'n6',
        null,
        'n8',
      ])
      expect((await store.source.loadSince(off!, 0, 10)).map((n) => n.title)).toEqual(['n2', 'n4', 'n8'])
      expect(await store.source.latestSeq(typeOff!)).toBe(1)
      const seen = await announced([off!, typeOff!, none!], 5)
      expect(seen.map((n) => n.title).sort()).toEqual(['n2', 'n4', 'n5', 'n6', 'n8'])

      // An unknown user among kept and suppressed entries: NOT_FOUND naming it, nothing stored, `within` not run.
      ran = false
      const before = events.length
      await expect(
        store.createMany(
          [
            { ...params(off!, 9), type: 'on' },
            { ...params(off!, 10), type: 'anything' },
            { ...params(none!, 11), critical: true },
            params('987654324', 12),
          ],
          within,
        ),
      ).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('987654324') })
      expect(ran).toBe(false)
      expect(await store.source.latestSeq(off!)).toBe(3)
      expect(await store.source.latestSeq(none!)).toBe(1)
      // The seqs go on where they were, and the failed batch announced nothing.
      const [next] = await store.createMany([{ ...params(off!, 13), type: 'on' }], within)
      expect(next!.notification!.seq).toBe(4)
      expect((await announced([off!], 4)).map((n) => n.title)).toEqual(['n2', 'n4', 'n8', 'n13'])
      expect(events.slice(before).filter((e) => e.kind === 'item' && e.key === none)).toEqual([])
    },
  )

  test('createIn checks preferences in its statement: a suppressed type answers null and stores nothing; critical is stored', async () => {
    const [userId] = await newUsers(1)
    await database.db.insert(notificationPreferences).values({
      userId: Number(userId),
      preferences: { default: { inApp: true, push: true }, types: { muted: { inApp: false, push: true } } },
    })
    const store = createNotificationStore({ db: database.db, bus })
    const created = await transact(database.db, bus, async (transaction) => [
      await store.createIn(transaction, { ...params(userId!, 1), type: 'muted' }),
      await store.createIn(transaction, { ...params(userId!, 2), type: 'muted', critical: true }),
      await store.createIn(transaction, { ...params(userId!, 3), type: 'other' }),
    ])
    expect(created.map((n) => n?.seq ?? null)).toEqual([null, 1, 2])
    expect((await store.source.loadSince(userId!, 0, 10)).map((n) => n.title)).toEqual(['n2', 'n3'])
    expect((await announced([userId!], 2)).map((n) => n.title)).toEqual(['n2', 'n3'])
  })

  test('an item PostgreSQL refuses (an unpaired surrogate in jsonb) fails only its own caller', async () => {
    const [userId] = await newUsers(1)
    const writer = createNotificationStore({ db: database.db, bus })
    const results = await Promise.allSettled([
      writer.create(params(userId!, 1)),
      writer.create({ ...params(userId!, 2), data: { text: '\ud800' } }),
      writer.create(params(userId!, 3)),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => r.value.seq)).toEqual([1, 2])
    expect((await announced([userId!], 2)).map((n) => n.seq)).toEqual([1, 2])
  })

  test('with creations inside other transactions (createIn) for the same user: seqs stay unique and gap-free', async () => {
    const [userId] = await newUsers(1)
    const writer = createNotificationStore({ db: database.db, bus })
    const work: Promise<Notification>[] = []
    for (let i = 0; i < 40; i++) {
      if (i % 4 === 0) {
        work.push(
          transact(database.db, bus, async (transaction) => {
            const created = (await writer.createIn(transaction, params(userId!, i)))!
            await transaction.tx.select({ id: jobs.id }).from(jobs).limit(1)
            return created
          }),
        )
      } else if (i % 4 === 1)
        work.push(
          transact(
            database.db,
            bus,
            async (transaction) => (await writer.createIn(transaction, params(userId!, i)))!,
          ),
        )
      else work.push(writer.create(params(userId!, i)))
    }
    const created = await Promise.all(work)
    expect(created.map((n) => n.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    )
    const pushed = await announced([userId!], 40)
    expect(pushed.length).toBe(40)
    expect(new Set(pushed.map((n) => n.seq)).size).toBe(40)
  })

  test('createIn for an unknown user → NOT_FOUND, the transaction rolls back, nothing announced', async () => {
    const before = events.length
    const store = createNotificationStore({ db: database.db, bus })
    await expect(
      transact(database.db, bus, (transaction) => store.createIn(transaction, params('987654322', 0))),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(events.slice(before).filter((e) => e.kind === 'item' && e.key === '987654322')).toEqual([])
  })
})
