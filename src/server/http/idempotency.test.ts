import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count, eq, sql } from 'drizzle-orm'
import { Elysia } from 'elysia'
import { until } from '../../../test/helpers/drill'
import { createManualClock } from '../../../test/helpers/manualClock'
import { createTestDatabase } from '../../../test/helpers/testDatabase'
import type { Database, DatabaseHandle } from '../db/openDatabase'
import { idempotencyKeys } from '../db/schema'
import { createLogger } from '../log/createLogger'
import { errorHandler } from './errorHandler'
import { createIdempotency, fingerprint, LEASE_MS, RETENTION_MS, WAIT_MS } from './idempotency'

// The mechanism on its own: a route that runs as long as the test says, the lease renewal that keeps a slow
// request's key from being taken over, and the sweep.

let database: DatabaseHandle
beforeAll(async () => {
  database = await createTestDatabase()
}, 30_000)
afterAll(async () => {
  await database?.close()
})

describe('a slow request keeps its key', () => {
  test('its lease is renewed while it runs: others wait and get 409, never run it again', async () => {
    const clock = createManualClock()
    const errors: string[] = []
    const idempotency = createIdempotency({ db: database.db, clock, onError: (_, c) => errors.push(c) })
    let runs = 0
    let finish = () => {}
    const app = new Elysia().use(errorHandler(createLogger('silent'))).post(
      '/op',
      async () => {
        runs++
        await new Promise<void>((resolve) => {
          finish = resolve
        })
        return { done: true }
      },
      idempotency.route(() => 'test', {}),
    )
    const send = () =>
      app.handle(
        new Request('http://localhost/op', {
          method: 'POST',
          headers: { 'idempotency-key': 'slow', 'content-type': 'application/json' },
          body: '{}',
        }),
      )
    const leaseOf = async () =>
      (
        await database.db
          .select({ lease: idempotencyKeys.leaseUntil })
          .from(idempotencyKeys)
          .where(eq(idempotencyKeys.key, 'slow'))
      )[0]?.lease?.getTime()

    const first = send()
    await until('the first request to run', () => (runs === 1 ? true : undefined))
    const initial = await leaseOf()
    expect(initial).toBe(clock.now() + LEASE_MS)
    // Three lease lengths pass while it runs, in steps of the renewal period.
    for (let i = 0; i < 9; i++) {
      const before = await leaseOf()
      clock.advance(LEASE_MS / 3)
      await until('the lease to be renewed', async () => ((await leaseOf())! > before! ? true : undefined))
    }
    expect(await leaseOf()).toBe(clock.now() + LEASE_MS)

    const second = send()
    let settled = false
    void second.then(() => (settled = true))
    while (!settled) {
      await Promise.race([second, Bun.sleep(50)])
      clock.advance(1000)
    }
    const conflict = await second
    expect(conflict.status).toBe(409)
    expect(runs).toBe(1)

    finish()
    const done = await first
    expect(done.status).toBe(200)
    const replay = await send()
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(await replay.json()).toEqual({ done: true })
    expect(runs).toBe(1)
    expect(errors).toEqual([])
    await idempotency.stop()
  }, 30_000)
})

describe('the sweep', () => {
  test('deletes keys past their retention, in slices, and leaves the others', async () => {
    const clock = createManualClock()
    const idempotency = createIdempotency({ db: database.db, clock, onError: () => {} })
    const now = clock.now()
    const row = (key: string, expiresAt: number) => ({
      scope: 'sweep',
      method: 'POST',
      route: '/r',
      key,
      fingerprint: 'f',
      status: 201,
      body: '{}',
      createdAt: new Date(expiresAt - RETENTION_MS),
      expiresAt: new Date(expiresAt),
    })
    const expired = Array.from({ length: 2500 }, (_, i) => row(`old-${i}`, now - 1000 - i))
    for (let i = 0; i < expired.length; i += 500)
      await database.db.insert(idempotencyKeys).values(expired.slice(i, i + 500))
    await database.db
      .insert(idempotencyKeys)
      .values([row('live-1', now + 1000), row('live-2', now + WAIT_MS)])
    expect(await idempotency.sweep()).toBe(2500)
    const left = await database.db
      .select({ key: idempotencyKeys.key })
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.scope, 'sweep'))
    expect(left.map((r) => r.key).sort()).toEqual(['live-1', 'live-2'])
    clock.advance(1000)
    expect(await idempotency.sweep()).toBe(1)
  })

  test('runs on the clock once started, and stop() is idempotent', async () => {
    const clock = createManualClock()
    const idempotency = createIdempotency({ db: database.db, clock, onError: () => {} })
    await database.db.insert(idempotencyKeys).values({
      scope: 'timer',
      method: 'POST',
      route: '/r',
      key: 'k',
      fingerprint: 'f',
      createdAt: new Date(clock.now()),
      expiresAt: new Date(clock.now() + 60_000),
    })
    const rows = async () =>
      (await database.db.select({ n: count() }).from(idempotencyKeys).where(sql`scope = 'timer'`))[0]!.n
    idempotency.start()
    idempotency.start()
    clock.advance(10 * 60_000)
    await until('the periodic sweep', async () => ((await rows()) === 0 ? true : undefined))
    await idempotency.stop()
    await idempotency.stop()
  })

  test('never throws: a database that is gone is reported and the sweep answers 0', async () => {
    // A database whose every statement fails, as one that went away does.
    const gone = {
      $client: {
        query: async () => {
          throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' })
        },
      },
    } as unknown as Database
    const reported: string[] = []
    const idempotency = createIdempotency({
      db: gone,
      clock: createManualClock(),
      onError: (_, context) => reported.push(context),
    })
    expect(await idempotency.sweep()).toBe(0)
    expect(reported).toEqual(['idempotency: sweeping expired keys'])
  })
})

describe('fingerprint', () => {
  test('the same JSON value, whatever its key order or number spelling; params count; never throws', () => {
    const a = fingerprint({ id: '1' }, JSON.parse('{"b": [1.0, {"y": 2, "x": 1}], "a": "é"}'))
    const b = fingerprint({ id: '1' }, JSON.parse('{"a":"\\u00e9","b":[1,{"x":1,"y":2}]}'))
    expect(a).toBe(b)
    expect(fingerprint({ id: '2' }, JSON.parse('{"a":"é","b":[1,{"x":1,"y":2}]}'))).not.toBe(a)
    expect(fingerprint({}, undefined)).toBe(fingerprint(undefined, null))
    expect(fingerprint({}, { n: 1 })).not.toBe(fingerprint({}, { n: '1' }))
    expect(fingerprint({}, JSON.parse('{"limit": 1e999}'))).toMatch(/^[0-9a-f]{64}$/)
    // Half a surrogate pair, as a value or a key (found by the HTTP fuzzer: it answered 500).
    const lone = fingerprint({}, JSON.parse('{"userId":"\\ud800"}'))
    expect(lone).toMatch(/^[0-9a-f]{64}$/)
    expect(lone).not.toBe(fingerprint({}, JSON.parse('{"userId":"\\udc00"}')))
    expect(fingerprint({}, JSON.parse('{"\\ud800":1}'))).toMatch(/^[0-9a-f]{64}$/)
  })
})
