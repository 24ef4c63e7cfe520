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
// that died: both are taken over by this claim (the latter only for the same request, so a key stays bound
// to its first body). Either way the row holds the new holder afterwards, which the caller checks.
const CLAIM = `insert into idempotency_keys as k
    (scope, method, route, key, fingerprint, holder, lease_until, created_at, expires_at)
  values ($1, $2, $3, $4, $5, $6::uuid, $7::timestamptz, $8::timestamptz, $9::timestamptz)
  on conflict (scope, method, route, key) do update set
    fingerprint = excluded.fingerprint, holder = excluded.holder, lease_until = excluded.lease_until,
    status = null, body = null, created_at = excluded.created_at, expires_at = excluded.expires_at
  where k.expires_at <= excluded.created_at
     or (k.status is null and k.lease_until <= excluded.created_at and k.fingerprint = excluded.fingerprint)
  returning 1 as claimed`
const READ = `select fingerprint, status, body,
    (extract(epoch from lease_until) * 1000)::float8 as lease_until
  from idempotency_keys where ${WHERE} and expires_at > $5::timestamptz`
const RENEW = `update idempotency_keys set lease_until = $6::timestamptz
  where ${WHERE} and holder = $5::uuid and status is null returning 1 as renewed`
const ANSWER = `update idempotency_keys set status = $6, body = $7, holder = null, lease_until = null
  where ${WHERE} and holder = $5::uuid and status is null returning 1 as answered`
const RELEASE = `delete from idempotency_keys where ${WHERE} and holder = $5::uuid and status is null`
// In slices, so a sweep after a long outage never holds one huge delete.
const SWEEP = `delete from idempotency_keys where ctid in
  (select ctid from idempotency_keys where expires_at <= $1::timestamptz limit $2)`

/** The statements of idempotency keys, each one round trip; times come from the caller's clock. */
export function createIdempotencyStore(runner: SqlRunner) {
  return {
    /** True when `holder` now holds the key: it was new, past its retention, or abandoned by a dead request. */
    async claim(
      key: KeyRef,
      claim: { fingerprint: string; holder: string; now: number; leaseMs: number; retentionMs: number },
    ): Promise<boolean> {
      const rows = await runner.query(CLAIM, [
        ...ref(key),
        claim.fingerprint,
        claim.holder,
        at(claim.now + claim.leaseMs),
        at(claim.now),
        at(claim.now + claim.retentionMs),
      ])
      return rows.length > 0
    },

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
    async answer(
      key: KeyRef,
      holder: string,
      answer: { status: number; body: string },
      within: SqlRunner = runner,
    ): Promise<boolean> {
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
