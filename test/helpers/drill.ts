import { expect } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Notification } from '../../src/shared/protocol'
import { createTestDatabaseUrl, usingPostgres } from './testDatabase'
import { until } from './until'
import { bearer, type Session } from './wallet'
import { connectSocket, type TestSocket } from './wsClient'

// Shared by the fault drills (real processes, outages, kills): publishing through the admin API, clients that
// connect like the SDK (auth + resume), and the exactly-once-in-order check.

// `until` lives in until.ts; drills and the tests that import it from here keep doing so.
export { until }

export const DRILL_ADMIN_KEY = 'fault-drill-admin-key-0123456789abcdef'

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

export const notificationsOf = (socket: TestSocket): Notification[] =>
  socket.messages
    .filter((m) => m.type === 'notification')
    .map((m) => (m as { notification: Notification }).notification)

export const seqsOf = (socket: TestSocket) => notificationsOf(socket).map((n) => n.seq)

/** Rejects with `what` when the promise takes longer than `ms`: a failure with context, not a test timeout. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** A publish attempt's outcome: accepted (201, with what was stored) or the status and error body. */
export type PublishResult =
  | { ok: true; notification: Notification }
  | { ok: false; status: number; body: unknown }

/** Stores a notification through an instance's admin API; never throws for an HTTP answer. */
export async function tryPublish(
  url: string,
  userId: string,
  label: string,
  adminKey = DRILL_ADMIN_KEY,
): Promise<PublishResult> {
  const response = await fetch(`${url}/api/admin/notifications`, {
    method: 'POST',
    headers: { ...bearer(adminKey), 'content-type': 'application/json' },
    body: JSON.stringify({ userId, type: 'drill', title: label, message: `message ${label}` }),
  })
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  if (response.status === 201)
    return { ok: true, notification: (body as { notification: Notification }).notification }
  return { ok: false, status: response.status, body }
}

/** The user's latest seq as the database has it. */
export async function latestSeq(url: string, session: Session): Promise<number> {
  const response = await fetch(`${url}/api/notifications/unread-count`, { headers: bearer(session.token) })
  if (response.status !== 200)
    throw new Error(`unread-count via ${url}: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { seq: number }).seq
}

/**
 * Connects like the SDK: auth, then resume right behind it; resolves once `resumed` arrives. A socket whose
 * handshake fails is closed before the error is thrown: the caller never gets it, so nothing else could.
 */
export async function connectResumed(wsUrl: string, token: string, since = 0): Promise<TestSocket> {
  const socket = connectSocket(wsUrl)
  try {
    await socket.opened
    await socket.next('connected')
    socket.send({ type: 'auth', token })
    socket.send({ type: 'resume', since })
    await socket.next('authenticated')
    await socket.next('resumed', 10_000)
  } catch (error) {
    socket.close()
    throw error
  }
  return socket
}

/**
 * A user's client that follows the SDK: on its socket until that closes, then on `nextUrl()` again, resuming
 * from the last seq it saw. `seqs()` is everything it received over all its sockets, in order.
 */
export function follow(session: Session, first: TestSocket, nextUrl: () => Promise<string>) {
  const sockets = [first]
  const seqs = () => sockets.flatMap(seqsOf)
  const notifications = () => sockets.flatMap(notificationsOf)
  let stopped = false
  const loop = (async () => {
    for (;;) {
      await sockets.at(-1)!.closed
      if (stopped) return
      // A new socket as soon as some instance takes it; attempts against a dead one fail fast.
      for (;;) {
        if (stopped) return
        try {
          sockets.push(await connectResumed(await nextUrl(), session.token, seqs().at(-1) ?? 0))
          break
        } catch {
          await Bun.sleep(200)
        }
      }
    }
  })()
  loop.catch(() => {})
  return {
    session,
    sockets,
    seqs,
    notifications,
    close() {
      stopped = true
      for (const socket of sockets) socket.close()
    },
  }
}

/**
 * Waits until the received seqs reach `latest`, lets late duplicates arrive, then checks they are exactly
 * 1..latest: none missing, none twice, in order.
 */
export async function expectExactlyOnce(
  what: string,
  seqs: () => number[],
  latest: number,
  timeoutMs = 15_000,
) {
  await until(`${what}: seq ${latest}`, () => (seqs().length >= latest ? true : undefined), timeoutMs)
  await Bun.sleep(300)
  expect(seqs()).toEqual(range(1, latest))
}

/** Runs `step(i)` for i in 0..count-1 with a pause between, bounded by construction. */
export async function paced(count: number, pauseMs: number, step: (i: number) => Promise<unknown>) {
  for (let i = 0; i < count; i++) {
    await step(i)
    await Bun.sleep(pauseMs)
  }
}

/** Temporary directories (DATA_DIR of spawned processes), removed by cleanup(). */
export function tempDirs(prefix: string) {
  const dirs: string[] = []
  return {
    make() {
      const dir = mkdtempSync(join(tmpdir(), prefix))
      dirs.push(dir)
      return dir
    },
    cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * What the processes of one test share: a DATA_DIR and, on PostgreSQL, a fresh database (dropped by the
 * cleanup it registers), as environment variables for spawnHerald.
 */
export async function processStorage(
  dirs: ReturnType<typeof tempDirs>,
  cleanups: (() => Promise<unknown>)[],
): Promise<Record<string, string>> {
  const env: Record<string, string> = { DATA_DIR: dirs.make() }
  if (usingPostgres()) {
    const database = await createTestDatabaseUrl()
    cleanups.push(() => database.drop())
    env.DATABASE_URL = database.url
  }
  return env
}
