import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq, sql } from 'drizzle-orm'
import { until } from '../../../test/helpers/drill'
import { createManualClock } from '../../../test/helpers/manualClock'
import { createTestDatabase } from '../../../test/helpers/testDatabase'
import type { Bus, BusEvent, BusListener } from '../bus/types'
import type { DatabaseHandle } from '../db/openDatabase'
import { sessions, users } from '../db/schema'
import { type SqlRunner, sqlRunner } from '../db/sqlRunner'
import { checkSession } from './authenticateToken'
import type { TokenClaims } from './createTokenService'
import { createSessionCache, type SessionCache } from './sessionCache'

// The session cache against a real database (PGlite, or PostgreSQL with HERALD_TEST_DATABASE_URL) and a bus
// the test drives: answers from memory once the revocations are loaded, the database's answer before, the
// revocations loaded at start, announced on the bus, and read again after the bus missed messages; the inbox
// bases of simultaneous sign-ins read in one query.

let database: DatabaseHandle
const clock = createManualClock()
const errors: unknown[] = []

/** A bus whose events and resyncs the test sends. */
function testBus() {
  const listeners = new Set<BusListener>()
  const bus: Bus = {
    kind: 'memory',
    notifyChannel: null,
    async announce(event) {
      for (const listener of listeners) listener.onEvent(event)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async start() {},
    async stop() {},
  }
  return {
    bus,
    send: (event: BusEvent) => bus.announce(event),
    resync: () => {
      for (const listener of listeners) listener.onResync?.()
    },
  }
}

/** Counts the statements sent, by their first words. */
function countingRunner(runner: SqlRunner) {
  const counts = new Map<string, number>()
  return {
    counts,
    runner: {
      ...runner,
      query<Row>(text: string, params: unknown[]) {
        const head = text.slice(0, 40)
        counts.set(head, (counts.get(head) ?? 0) + 1)
        return runner.query<Row>(text, params)
      },
    } satisfies SqlRunner,
    basesRead: () => [...counts].filter(([head]) => head.includes('last_seq')).reduce((n, [, c]) => n + c, 0),
  }
}

async function newSession(lastSeq = 0): Promise<TokenClaims> {
  const address = `0x${crypto.getRandomValues(new Uint8Array(20)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '')}`
  const [user] = await database.db.insert(users).values({ address, lastSeq }).returning()
  const expiresAt = new Date(Date.now() + 3600_000)
  const [session] = await database.db.insert(sessions).values({ userId: user!.id, expiresAt }).returning()
  return { userId: String(user!.id), sessionId: session!.id, address, expiresAt: expiresAt.getTime() }
}

const revokeInDatabase = (sessionId: string) =>
  database.db.update(sessions).set({ revokedAt: sql`now()` }).where(eq(sessions.id, sessionId))

function startCache(bus: Bus, runner: SqlRunner = sqlRunner(database.db)) {
  const sources: string[] = []
  const cache = createSessionCache({
    runner,
    bus,
    clock,
    fallback: (claims) => checkSession(database.db, claims),
    counted: (source) => sources.push(source),
    onError: (error) => errors.push(error),
  })
  return { cache, sources }
}

beforeAll(async () => {
  database = await createTestDatabase()
})
afterAll(async () => {
  await database?.close()
})

describe('the session cache', () => {
  let cache: SessionCache
  afterAll(() => cache?.stop())

  test('the database answers until the revocations are loaded; then memory, with the inbox base', async () => {
    const { bus } = testBus()
    const started = startCache(bus)
    cache = started.cache
    const claims = await newSession(7)
    expect(await cache.check(claims)).toMatchObject({ userId: claims.userId, lastSeq: 7 })
    expect(started.sources).toEqual(['database'])
    await cache.start()
    expect(await cache.check(claims)).toEqual({ ...claims, lastSeq: 7 })
    expect(started.sources).toEqual(['database', 'memory'])
    // Malformed claims and a user that is gone are refused from memory too.
    expect(await cache.check({ ...claims, sessionId: 'nope' })).toBeNull()
    expect(await cache.check({ ...claims, userId: '999999999' })).toBeNull()
    expect(errors).toEqual([])
  })

  test('revocations: loaded at start, announced on the bus, and read again after the bus missed some', async () => {
    const before = await newSession()
    await revokeInDatabase(before.sessionId)
    const { bus, send, resync } = testBus()
    const { cache: fresh } = startCache(bus)
    await fresh.start()
    try {
      expect(await fresh.check(before)).toBeNull()

      const announced = await newSession()
      expect(await fresh.check(announced)).not.toBeNull()
      await revokeInDatabase(announced.sessionId)
      await send({ kind: 'session_revoked', userId: announced.userId, sessionId: announced.sessionId })
      expect(fresh.isRevoked(announced.sessionId)).toBe(true)
      expect(await fresh.check(announced)).toBeNull()

      // Revoked while the bus was away: memory does not know until the bus says it missed messages.
      const missed = await newSession()
      await revokeInDatabase(missed.sessionId)
      expect(await fresh.check(missed)).not.toBeNull()
      resync()
      // While the list is read again, the database answers (it refuses); then memory does.
      expect(await fresh.check(missed)).toBeNull()
      await until('the revocations read again', () => fresh.isRevoked(missed.sessionId) || undefined)
      expect(await fresh.check(missed)).toBeNull()
    } finally {
      fresh.stop()
    }
  })

  test('the bases of simultaneous sign-ins are read in one query, whatever their number', async () => {
    const { bus } = testBus()
    const counting = countingRunner(sqlRunner(database.db))
    const { cache: batched } = startCache(bus, counting.runner)
    await batched.start()
    try {
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => newSession(i)))
      const answers = await Promise.all(many.map((claims) => batched.check(claims)))
      expect(answers.map((a) => a?.lastSeq)).toEqual(many.map((_, i) => i))
      expect(counting.basesRead()).toBe(1)
    } finally {
      batched.stop()
    }
  })
})
