import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Job } from '../../src/shared/protocol'
import { type HeraldProcess, spawnHerald } from '../../test/helpers/heraldProcess'
import { createTestDatabaseUrl, usingPostgres } from '../../test/helpers/testDatabase'
import { bearer, type Session, signIn } from '../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../test/helpers/wsClient'

// The example shop (examples/embed-elysia) run as its own process, as `bun examples/embed-elysia/main.ts`,
// and driven over HTTP and WebSocket: its own routes beside Herald's, a notification from its own route, its
// own job started by a user (POST /api/jobs) and by the shop (its /reports route), progress arriving live.

type JobStatus = {
  type: 'job_status'
  jobId: string
  status: string
  progress?: { done: number; total: number }
}

let shop: HeraldProcess
let dataDir: string
let dropDatabase: (() => Promise<void>) | null = null
let session: Session
let socket: TestSocket

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-embed-'))
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    SIWE_DOMAINS: 'shop.example',
    HERALD_ADMIN_KEY: 'embed-admin-key-0123456789abcdef',
    LOG_LEVEL: 'warn',
  }
  if (usingPostgres()) {
    const database = await createTestDatabaseUrl()
    env.DATABASE_URL = database.url
    dropDatabase = database.drop
  }
  shop = await spawnHerald(env, {
    label: 'shop',
    entry: 'examples/embed-elysia/main.ts',
    ready: /Shop listening on (http:\/\/\S+)/,
    startupTimeoutMs: 60_000,
  })
  session = await signIn(shop.url)
  socket = await connectAuthenticated(shop.wsUrl, session.token)
})

afterAll(async () => {
  socket?.close()
  const exit = await shop?.kill('SIGTERM')
  await dropDatabase?.()
  rmSync(dataDir, { recursive: true, force: true })
  expect(exit?.code).toBe(0)
})

const finalStatus = (jobId: string) =>
  socket.next<JobStatus>(
    (m) =>
      m.type === 'job_status' && (m as JobStatus).jobId === jobId && (m as JobStatus).status === 'completed',
    30_000,
  )
const progressOf = (jobId: string) =>
  socket.messages
    .filter((m): m is JobStatus => m.type === 'job_status' && (m as JobStatus).jobId === jobId)
    .flatMap((m) => (m.progress ? [m.progress.done] : []))

describe('examples/embed-elysia', () => {
  test('the shop serves its own routes and Herald’s on one port', async () => {
    expect(await (await fetch(`${shop.url}/`)).json()).toEqual({ shop: 'open' })
    const health = (await (await fetch(`${shop.url}/health`)).json()) as { status: string; db: string }
    expect(health).toMatchObject({ status: 'ok', db: 'ok' })
  })

  test('an order placed on the shop’s route notifies the buyer live, and the notification is stored', async () => {
    const placed = await fetch(`${shop.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ buyer: session.user.address, item: 'a lamp' }),
    })
    expect(placed.status).toBe(201)
    const { notificationId } = (await placed.json()) as { notificationId: string }
    const pushed = await socket.next<{
      type: 'notification'
      notification: { id: string; type: string; message: string }
    }>(
      (m) =>
        m.type === 'notification' &&
        (m as { notification: { id: string } }).notification.id === notificationId,
    )
    expect(pushed.notification).toMatchObject({ type: 'order_placed', message: 'a lamp is on its way' })
    const list = (await (
      await fetch(`${shop.url}/api/notifications`, { headers: bearer(session.token) })
    ).json()) as { notifications: { id: string }[] }
    expect(list.notifications.map((n) => n.id)).toContain(notificationId)
  })

  test('a user starts the shop’s sales report: progress in order, then the result and one notification', async () => {
    const started = await fetch(`${shop.url}/api/jobs`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'sales_report', input: { days: 4 } }),
    })
    expect(started.status).toBe(202)
    const { job } = (await started.json()) as { job: Job }
    await finalStatus(job.id)
    expect(progressOf(job.id)).toEqual([1, 2, 3, 4])
    // Sent by the job before it completed, so it is already here: exactly one.
    const ready = socket.messages.filter(
      (m) =>
        m.type === 'notification' &&
        (m as { notification: { type: string } }).notification.type === 'report_ready',
    ) as { type: 'notification'; notification: { data: { days: number } } }[]
    expect(ready).toHaveLength(1)
    expect(ready[0]!.notification.data.days).toBe(4)
    const finished = (await (
      await fetch(`${shop.url}/api/jobs/${job.id}`, { headers: bearer(session.token) })
    ).json()) as Job
    expect(finished).toMatchObject({ status: 'completed', result: { days: 4 } })

    // Input the job's schema refuses is the contract's 422, naming the field.
    const bad = await fetch(`${shop.url}/api/jobs`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'sales_report', input: { days: 0 } }),
    })
    expect(bad.status).toBe(422)
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('days')
  })

  test('the shop starts a report for a user from its own route; the user sees it live', async () => {
    const started = await fetch(`${shop.url}/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ owner: session.user.address, days: 2 }),
    })
    expect(started.status).toBe(200)
    const { job } = (await started.json()) as { job: Job }
    expect(job.type).toBe('sales_report')
    await finalStatus(job.id)
    expect(progressOf(job.id)).toEqual([1, 2])
  })
})
