import { describe, expect, test } from 'bun:test'
import { until } from '../../../test/helpers/drill'
import { useHeraldPair } from '../../../test/helpers/heraldPair'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { signIn } from '../../../test/helpers/wallet'
import { createHeraldAdmin } from '../../client/admin'
import { LEASE_MS } from '../http/idempotency'

// A server killed (kill -9) while it holds an Idempotency-Key, in the middle of a batch publish: the key
// blocks its retries only until the dead request's lease lapses, and the retry on the other instance stores
// the batch exactly once (the dead one's transaction never committed; had it committed, its answer would have
// committed with it and been replayed). Real processes and real time (one lease, 15 s). Only with
// HERALD_TEST_DATABASE_URL.

const ADMIN_KEY = 'idempotency-crash-admin-key-0123456789'

describe.skipIf(!usingPostgres())('a request that died holding its key', () => {
  const pair = useHeraldPair(ADMIN_KEY)

  test('kill -9 mid-batch: the retry on the other instance waits out the lease and stores the batch once', async () => {
    const [alice, bob] = await Promise.all([signIn(pair.b.url), signIn(pair.b.url)])
    const idempotencyKey = crypto.randomUUID()
    const batch = {
      recipients: [{ userId: alice.user.id }, { userId: bob.user.id }],
      notification: { type: 'crash', title: 'Once', message: 'Whatever happens' },
    }

    // Bob's user row locked from outside: A's batch claims the key, then waits on the lock inside its
    // transaction, where the kill finds it.
    let release = () => {}
    const locked = new Promise<void>((resolve) => {
      release = resolve
    })
    let lockHeld = () => {}
    const holding = new Promise<void>((resolve) => {
      lockHeld = resolve
    })
    const lock = pair.sql.begin(async (tx) => {
      await tx`select id from users where id = ${bob.user.id} for update`
      lockHeld()
      await locked
    })
    await holding
    const onA = createHeraldAdmin({ url: pair.a.url, adminKey: ADMIN_KEY, retries: 0 })
    const doomed = onA.notifyMany(batch, { idempotencyKey }).catch((error: unknown) => error)
    await until('A to hold the key and wait on the lock', async () => {
      const [row] = await pair.sql`select holder from idempotency_keys where key = ${idempotencyKey}`
      const [waiting] = await pair.sql`select 1 from pg_stat_activity
        where application_name = 'herald' and wait_event_type = 'Lock'`
      return row?.holder && waiting ? true : undefined
    })
    await pair.a.kill('SIGKILL')
    expect(await doomed).toMatchObject({ code: 'NETWORK_ERROR' })
    release()
    await lock

    const started = performance.now()
    const onB = createHeraldAdmin({ url: pair.b.url, adminKey: ADMIN_KEY })
    const { results } = await onB.notifyMany(batch, { idempotencyKey })
    const waited = performance.now() - started
    expect(results.map((r) => r.userId)).toEqual([alice.user.id, bob.user.id])
    // It ran once the lease lapsed (renewed every LEASE_MS / 3 until the kill), not before and not much after.
    expect(waited).toBeGreaterThan((LEASE_MS * 2) / 3 - 2000)
    expect(waited).toBeLessThan(LEASE_MS + 15_000)
    const counts = await pair.sql`select user_id::text as user, count(*)::int as n from notifications
      where type = 'crash' group by user_id`
    expect(Object.fromEntries(counts.map((row) => [row.user, row.n]))).toEqual({
      [alice.user.id]: 1,
      [bob.user.id]: 1,
    })
    const again = await onB.notifyMany(batch, { idempotencyKey })
    expect(again).toEqual({ results })
  }, 90_000)
})
