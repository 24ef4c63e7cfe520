import { randomUUID } from 'node:crypto'
import { StatusMap, t } from 'elysia'
import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_KEY_MAX,
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENT_REPLAYED_HEADER,
  isIdempotencyKey,
} from '../../shared/protocol/idempotency'
import type { Database } from '../db/openDatabase'
import { type SqlRunner, sqlRunner } from '../db/sqlRunner'
import { type ErrorReporter, HeraldError } from '../errors'
import type { Clock } from '../time/clock'
import { fingerprint } from './idempotencyFingerprint'
import { createIdempotencyStore, type KeyRef } from './idempotencyStore'

// Publishing exactly once (docs/protocol.md §6; Herald's choices in §3, "Publishing exactly once").
//
// A route opts in with one declaration around its options, next to withBody:
//
//   .post('/notifications', handler, ctx.idempotency.admin({
//     ...withBody(AdminPublishBodySchema),
//     response: { 201: AdminPublishResponseSchema },
//     detail: { tags: ['admin'], summary: '…' },
//   }))
//
// `admin` scopes keys to the admin key, `user` to the signed-in user (the route's plugin derives `session`
// first), `route(caller, options)` to anything else. The key is looked at after the plugin's own hooks (the
// caller's authentication and rate limit) and before the body is validated, so every answer the route gives
// is remembered: a replay is thrown from there and answered by the error handler, the answer is recorded
// as the response is made (mapResponse). A route whose write runs in a transaction passes
// `ctx.idempotency.answerWithin(request, runner, status, body)` into it, so the stored answer commits with the
// data it describes (POST /api/tokens, the batch route); every other answer is recorded just after.

export { fingerprint } from './idempotencyFingerprint'

/** How long a key and its answer are kept (the contract's 24 hours). */
export const RETENTION_MS = 24 * 60 * 60 * 1000
/** How long a request waits for the first one with its key before answering 409 (the contract's 10 s). */
export const WAIT_MS = 10_000
/** A running request's hold on its key; renewed while it runs, so only a dead request's lapses. */
export const LEASE_MS = 15_000
/** A request running longer than this is stuck: its lease is no longer renewed and lapses. */
const MAX_HOLD_MS = 5 * 60_000
const SWEEP_INTERVAL_MS = 10 * 60_000
const SWEEP_SLICE = 1000

/** Who a key belongs to, from the route's context after its plugin's hooks. */
export type Caller = (context: never) => string
const adminCaller = () => 'admin'
const userCaller = (context: { session: { userId: string } }) => `user:${context.session.userId}`

/**
 * A stored answer given again: thrown by the claim, before the route runs, and turned into the response by
 * the error handler (with `Idempotent-Replayed: true`).
 */
export class ReplayedAnswer extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super('replayed')
    this.name = 'ReplayedAnswer'
  }
  toResponse(): Response {
    const headers: Record<string, string> = { [IDEMPOTENT_REPLAYED_HEADER.toLowerCase()]: 'true' }
    if (this.body) headers['content-type'] = 'application/json'
    return new Response(this.body || null, { status: this.status, headers })
  }
}

/** The route options the declaration touches; the rest passes through untouched. */
interface RouteHooks {
  transform?: unknown
  mapResponse?: unknown
  headers?: unknown
  [option: string]: unknown
}

export interface Idempotency {
  /** `options` with Idempotency-Key handling for keys of the admin key (the /api/admin routes). */
  admin<O extends RouteHooks>(options: O): O
  /** `options` with Idempotency-Key handling for keys of the signed-in user (`session` derived first). */
  user<O extends RouteHooks>(options: O): O
  /** `options` with Idempotency-Key handling for keys of whoever `caller` names. */
  route<O extends RouteHooks>(caller: Caller, options: O): O
  /**
   * Records this request's answer on `runner` (the route's own transaction), so it commits with the data it
   * describes; `body` is what the route then returns (and is sent as stored, so it must be exactly the shape
   * of the route's response schema). Does nothing for a request without a key. Throws
   * CONFLICT (rolling the transaction back) when the request lost its key to another (its lease lapsed).
   */
  answerWithin(request: Request, runner: SqlRunner, status: number, body: unknown): Promise<void>
  /**
   * Whether this request holds a key, so that `answerWithin` has an answer to record: a route whose write
   * needs a transaction only for that answer (the batch route) can do without one otherwise.
   */
  holdsKey(request: Request): boolean
  /** Deletes keys past their retention; never throws (failures go to onError). Answers how many. */
  sweep(): Promise<number>
  /** Starts the periodic sweep; idempotent. */
  start(): void
  /** Stops the sweep and every lease renewal; idempotent. */
  stop(): Promise<void>
}

export interface IdempotencyOptions {
  db: Database
  clock: Clock
  onError: ErrorReporter
  retentionMs?: number
  waitMs?: number
  leaseMs?: number
}

/** A key this request holds while it runs. */
interface Held {
  ref: KeyRef
  holder: string
  /** The answer already stored inside the route's transaction, if any: what the response then carries. */
  answeredWithin: { status: number; body: string } | null
  release(): void
}

const badKey = () =>
  new HeraldError(
    'INVALID_INPUT',
    `The ${IDEMPOTENCY_KEY_HEADER} header must be 1–${IDEMPOTENCY_KEY_MAX} printable ASCII characters.`,
    { status: 400 },
  )
const reused = () =>
  new HeraldError(
    'IDEMPOTENCY_KEY_REUSED',
    `This ${IDEMPOTENCY_KEY_HEADER} was used with another request body; use a new key for a new request.`,
  )
const stillRunning = () =>
  new HeraldError(
    'CONFLICT',
    `A request with this ${IDEMPOTENCY_KEY_HEADER} is still running; retry it later.`,
    { retryAfterSeconds: 1 },
  )

/** 5xx, 429 and the in-flight 409 (thrown before a key is held) are forgotten, so their retry runs again. */
const remembered = (status: number) => status < 500 && status !== 429

const statusOf = (status: unknown): number =>
  typeof status === 'number' ? status : ((StatusMap as Record<string, number>)[String(status)] ?? 200)

/**
 * The header as the route's header schema, which is what documents it in OpenAPI (a `detail.parameters` entry
 * would be replaced by the path's). The claim checks it first, so this never answers a bad key itself.
 */
const KEY_HEADER_SCHEMA = t.Object(
  {
    [IDEMPOTENCY_KEY_HEADER.toLowerCase()]: t.Optional(
      t.String({
        minLength: 1,
        maxLength: IDEMPOTENCY_KEY_MAX,
        pattern: IDEMPOTENCY_KEY_PATTERN,
        description:
          'Makes a retry safe (docs/protocol.md §6): the first request with a key runs; the same key and body again within 24 h, from any instance, gets the same status and body with `Idempotent-Replayed: true`, and stores and sends nothing. Another body → 422 IDEMPOTENCY_KEY_REUSED; while the first still runs, a request waits up to 10 s, then 409 CONFLICT with Retry-After. 5xx and 429 answers are not remembered. 1–255 printable ASCII characters, else 400 INVALID_INPUT.',
      }),
    ),
  },
  { additionalProperties: true },
)

export function createIdempotency(options: IdempotencyOptions): Idempotency {
  const { clock, onError } = options
  const retentionMs = options.retentionMs ?? RETENTION_MS
  const waitMs = options.waitMs ?? WAIT_MS
  const leaseMs = options.leaseMs ?? LEASE_MS
  const store = createIdempotencyStore(sqlRunner(options.db))
  const held = new WeakMap<Request, Held>()
  /** Renewals of keys held on this instance, stopped on shutdown. */
  const holding = new Set<Held>()
  /** Requests on this instance waiting for a key held here: woken when it is answered, not at their next poll. */
  const waiting = new Map<string, Set<() => void>>()
  const idOf = (ref: KeyRef) => JSON.stringify([ref.scope, ref.method, ref.route, ref.key])

  const wake = (ref: KeyRef) => {
    const id = idOf(ref)
    for (const resume of waiting.get(id) ?? []) resume()
    waiting.delete(id)
  }

  /** Sleeps `ms` on the clock, or less when the key is answered on this instance. */
  const pause = (ref: KeyRef, ms: number) =>
    new Promise<void>((resolve) => {
      const id = idOf(ref)
      const resume = () => {
        cancel()
        waiting.get(id)?.delete(resume)
        resolve()
      }
      const cancel = clock.schedule(resume, ms)
      const set = waiting.get(id) ?? new Set()
      waiting.set(id, set)
      set.add(resume)
    })

  /** Keeps the lease of a key this instance holds alive while its request runs. */
  const hold = (ref: KeyRef, holder: string): Held => {
    const since = clock.now()
    let cancel = () => {}
    let done = false
    const renew = () => {
      if (done || clock.now() - since > MAX_HOLD_MS) return
      store
        .renew(ref, holder, clock.now() + leaseMs)
        .then((still) => {
          if (still) schedule()
        })
        .catch((error: unknown) => {
          onError(error, 'idempotency: renewing the lease of a running request')
          schedule()
        })
    }
    const schedule = () => {
      if (!done) cancel = clock.schedule(renew, leaseMs / 3)
    }
    const entry: Held = {
      ref,
      holder,
      answeredWithin: null,
      release() {
        done = true
        cancel()
        holding.delete(entry)
      },
    }
    holding.add(entry)
    schedule()
    return entry
  }

  /** Holds the key for this request, or throws what the contract answers instead (replay, 422, 409). */
  const acquire = async (ref: KeyRef, print: string): Promise<Held> => {
    const holder = randomUUID()
    const deadline = clock.now() + waitMs
    for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
      const now = clock.now()
      if (await store.claim(ref, { fingerprint: print, holder, now, leaseMs, retentionMs }))
        return hold(ref, holder)
      const row = await store.read(ref, now)
      if (row && row.fingerprint !== print) throw reused()
      if (row && row.status !== null) throw new ReplayedAnswer(row.status, row.body ?? '')
      // Still running here or on another instance (or just released: the next claim takes it).
      const left = deadline - clock.now()
      if (left <= 0) throw stillRunning()
      await pause(ref, Math.min(delay, left))
    }
  }

  /** Remembers the answer (or forgets the key, for answers that are not remembered) and wakes waiters. */
  const settle = async (entry: Held, status: number, body: string) => {
    entry.release()
    try {
      if (!remembered(status)) await store.release(entry.ref, entry.holder)
      else if (entry.answeredWithin?.status !== status)
        await store.answer(entry.ref, entry.holder, { status, body })
    } catch (error) {
      // The answer is lost; the key's lease lapses and a retry runs again (docs/protocol.md §3).
      onError(error, 'idempotency: recording an answer')
    } finally {
      wake(entry.ref)
    }
  }

  const claimHook = (caller: Caller) => async (context: Record<string, unknown>) => {
    const request = context.request as Request
    const key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if (key === null) return
    if (!isIdempotencyKey(key)) throw badKey()
    const ref: KeyRef = {
      scope: caller(context as never),
      method: request.method,
      route: String(context.route),
      key,
    }
    held.set(request, await acquire(ref, fingerprint(context.params, context.body)))
  }

  const recordHook = async (context: Record<string, unknown>) => {
    const request = context.request as Request
    const entry = held.get(request)
    if (!entry) return
    const value = context.responseValue ?? context.response
    if (value instanceof Response) {
      held.delete(request)
      await settle(entry, value.status, await value.clone().text())
      return
    }
    // An error hook that answered nothing: the error handler's answer comes through here next.
    if (context.error !== undefined && value === undefined) return
    held.delete(request)
    // The response is built here from the text that is stored, so a replay is the same bytes: the text
    // stored in the route's transaction when it is that answer (Elysia's response check may have rebuilt
    // the value since, in its schema's key order), else the value as it is now.
    const status = statusOf((context.set as { status?: unknown }).status)
    const within = entry.answeredWithin?.status === status ? entry.answeredWithin.body : undefined
    const body = within ?? (value === undefined ? '' : JSON.stringify(value))
    await settle(entry, status, body)
    return new Response(body || null, {
      status,
      headers: body ? { 'content-type': 'application/json' } : {},
    })
  }

  const route = <O extends RouteHooks>(caller: Caller, routeOptions: O): O => {
    const list = (hooks: unknown) => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks])
    if (routeOptions.headers !== undefined)
      throw new Error('idempotent routes declare no header schema of their own (add the header here instead)')
    return {
      ...routeOptions,
      transform: [claimHook(caller), ...list(routeOptions.transform)],
      mapResponse: [recordHook, ...list(routeOptions.mapResponse)],
      headers: KEY_HEADER_SCHEMA,
    }
  }

  let sweeping: Promise<number> | null = null
  let cancelSweep: (() => void) | null = null
  const sweep = () => {
    sweeping ??= (async () => {
      let total = 0
      try {
        for (;;) {
          const deleted = await store.sweep(clock.now(), SWEEP_SLICE)
          total += deleted
          if (deleted < SWEEP_SLICE) return total
        }
      } catch (error) {
        onError(error, 'idempotency: sweeping expired keys')
        return total
      } finally {
        sweeping = null
      }
    })()
    return sweeping
  }
  const scheduleSweep = () => {
    cancelSweep = clock.schedule(() => {
      void sweep().then(() => {
        if (cancelSweep) scheduleSweep()
      })
    }, SWEEP_INTERVAL_MS)
  }

  return {
    admin: (routeOptions) => route(adminCaller, routeOptions),
    user: (routeOptions) => route(userCaller as Caller, routeOptions),
    route,
    async answerWithin(request, runner, status, body) {
      const entry = held.get(request)
      if (!entry) return
      const answer = { status, body: JSON.stringify(body) }
      if (!(await store.answer(entry.ref, entry.holder, answer, runner)))
        throw new HeraldError(
          'CONFLICT',
          `This request outlived its hold on its ${IDEMPOTENCY_KEY_HEADER}, which another request took over; nothing was stored.`,
          { retryAfterSeconds: 1 },
        )
      entry.answeredWithin = answer
    },
    holdsKey: (request) => held.has(request),
    sweep,
    start() {
      if (!cancelSweep) scheduleSweep()
    },
    async stop() {
      cancelSweep?.()
      cancelSweep = null
      for (const entry of [...holding]) entry.release()
      await sweeping
    },
  }
}
