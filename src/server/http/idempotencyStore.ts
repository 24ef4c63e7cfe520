import DataLoader from 'dataloader'
import type { SqlRunner } from '../db/sqlRunner'

/** One key as the contract scopes it: the caller, the method and the route. */
export interface KeyRef {
  scope: string
  method: string
  route: string
  key: string
}

/** A key's row as another request finds it. */
export interface StoredKey {
  fingerprint: string
  /** null while the first request with the key runs. */
  status: number | null
  body: string | null
  /** When the running request's lease lapses (ms since the epoch); null once answered. */
  leaseUntil: number | null
}

const at = (ms: number) => new Date(ms).toISOString()
const ref = (k: KeyRef) => [k.scope, k.method, k.route, k.key]
const WHERE = 'scope = $1 and method = $2 and route = $3 and key = $4'

// A row past its retention is no key at all, and an unanswered one whose lease lapsed belongs to a request
// that died: both are taken over by a claim (the latter only for the same request, so a key stays bound to
// its first body). The rows a statement took are the ones it returns. One statement claims every key asked
// for in a loop turn, in key order, so statements of several instances lock the rows they share in the same
// order.
const CLAIM = `insert into idempotency_keys as k
    (scope, method, route, key, fingerprint, holder, lease_until, created_at, expires_at)
  select scope, method, route, key, fingerprint, holder::uuid, lease_until::timestamptz,
    created_at::timestamptz, expires_at::timestamptz
  from json_to_recordset(($1::text)::json) as v(scope text, method text, route text, key text,
    fingerprint text, holder text, lease_until text, created_at text, expires_at text)
  on conflict (scope, method, route, key) do update set
    fingerprint = excluded.fingerprint, holder = excluded.holder, lease_until = excluded.lease_until,
    status = null, body = null, created_at = excluded.created_at, expires_at = excluded.expires_at
  where k.expires_at <= excluded.created_at
     or (k.status is null and k.lease_until <= excluded.created_at and k.fingerprint = excluded.fingerprint)
  returning holder::text as holder`
const READ = `select fingerprint, status, body,
    (extract(epoch from lease_until) * 1000)::float8 as lease_until
  from idempotency_keys where ${WHERE} and expires_at > $5::timestamptz`
const RENEW = `update idempotency_keys set lease_until = $6::timestamptz
  where ${WHERE} and holder = $5::uuid and status is null returning 1 as renewed`
const ANSWER = `update idempotency_keys set status = $6, body = $7, holder = null, lease_until = null
  where ${WHERE} and holder = $5::uuid and status is null returning 1 as answered`
// Every answer recorded in a loop turn (outside the routes' own transactions), in one statement.
const ANSWER_MANY = `update idempotency_keys as k
  set status = v.status, body = v.body, holder = null, lease_until = null
  from json_to_recordset(($1::text)::json)
    as v(scope text, method text, route text, key text, holder text, status int, body text)
  where k.scope = v.scope and k.method = v.method and k.route = v.route and k.key = v.key
    and k.holder = v.holder::uuid and k.status is null
  returning v.holder`
const RELEASE = `delete from idempotency_keys where ${WHERE} and holder = $5::uuid and status is null`
// In slices, so a sweep after a long outage never holds one huge delete.
const SWEEP = `delete from idempotency_keys where ctid in
  (select ctid from idempotency_keys where expires_at <= $1::timestamptz limit $2)`

interface Claim {
  fingerprint: string
  holder: string
  now: number
  leaseMs: number
  retentionMs: number
}
interface Answer {
  status: number
  body: string
}

const idOf = (key: KeyRef) => JSON.stringify(ref(key))
// Requests read in the same loop turn share a statement, as the stream writer's appends do.
const batching = { cache: false, maxBatchSize: 500, batchScheduleFn: (run: () => void) => setImmediate(run) }

/** The statements of idempotency keys, each one round trip; times come from the caller's clock. */
export function createIdempotencyStore(runner: SqlRunner) {
  const claims = new DataLoader<{ key: KeyRef; claim: Claim }, boolean>(async (asked) => {
    // A key asked for twice in one statement would be updated twice (which PostgreSQL refuses): the first
    // asks, the others lose to it and then wait for it like any later request.
    const first = new Map<string, string>()
    for (const { key, claim } of asked) if (!first.has(idOf(key))) first.set(idOf(key), claim.holder)
    const rows = asked
      .filter(({ key, claim }) => first.get(idOf(key)) === claim.holder)
      .sort((x, y) => (idOf(x.key) < idOf(y.key) ? -1 : 1))
      .map(({ key, claim }) => ({
        ...key,
        fingerprint: claim.fingerprint,
        holder: claim.holder,
        lease_until: at(claim.now + claim.leaseMs),
        created_at: at(claim.now),
        expires_at: at(claim.now + claim.retentionMs),
      }))
    const won = new Set(
      (await runner.query<{ holder: string }>(CLAIM, [JSON.stringify(rows)])).map((row) => row.holder),
    )
    return asked.map(({ claim }) => won.has(claim.holder))
  }, batching)
  const answers = new DataLoader<{ key: KeyRef; holder: string; answer: Answer }, boolean>(async (given) => {
    const rows = given.map(({ key, holder, answer }) => ({ ...key, holder, ...answer }))
    const done = new Set(
      (await runner.query<{ holder: string }>(ANSWER_MANY, [JSON.stringify(rows)])).map((row) => row.holder),
    )
    return given.map(({ holder }) => done.has(holder))
  }, batching)

  return {
    /** True when `holder` now holds the key: it was new, past its retention, or abandoned by a dead request. */
    claim: (key: KeyRef, claim: Claim): Promise<boolean> => claims.load({ key, claim }),

    /** The key's row, or null when there is none (never used, released, or past its retention). */
    async read(key: KeyRef, now: number): Promise<StoredKey | null> {
      const [row] = await runner.query<{
        fingerprint: string
        status: number | null
        body: string | null
        lease_until: number | null
      }>(READ, [...ref(key), at(now)])
      if (!row) return null
      const lease = row.lease_until === null ? null : Number(row.lease_until)
      return { fingerprint: row.fingerprint, status: row.status, body: row.body, leaseUntil: lease }
    },

    /** Extends a running request's lease; false when it no longer holds the key. */
    async renew(key: KeyRef, holder: string, until: number): Promise<boolean> {
      return (await runner.query(RENEW, [...ref(key), holder, at(until)])).length > 0
    },

    /**
     * Stores the answer, on `within` when given (the route's own transaction: the answer then commits with
     * the data it describes). False when `holder` no longer held the key.
     */
    async answer(key: KeyRef, holder: string, answer: Answer, within?: SqlRunner): Promise<boolean> {
      if (!within) return answers.load({ key, holder, answer })
      const rows = await within.query(ANSWER, [...ref(key), holder, answer.status, answer.body])
      return rows.length > 0
    },

    /** Forgets an unanswered key, so the next request with it runs (after a 5xx, a 429, a crash). */
    async release(key: KeyRef, holder: string): Promise<void> {
      await runner.query(RELEASE, [...ref(key), holder])
    },

    /** Deletes up to `limit` keys past their retention; answers how many. */
    async sweep(now: number, limit: number): Promise<number> {
      return (await runner.query(`${SWEEP} returning 1`, [at(now), limit])).length
    },
  }
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>
