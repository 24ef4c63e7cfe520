import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { countJob, internalJob, runs, waitJob } from '../../../test/fixtures/testJobs'
import { until } from '../../../test/helpers/drill'
import { createTestDatabase, usingPostgres } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'
import type { Job } from '../../shared/protocol'

const jobs = [countJob, waitJob, internalJob]

const api = (url: string, session: Session, method: string, path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: { ...bearer(session.token), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

type StatusMessage = { type: 'job_status'; jobId: string; status: string; progress?: { done?: number } }
const ofJob = (socket: TestSocket, jobId: string) =>
  socket.messages.filter((m) => m.type === 'job_status' && m.jobId === jobId) as StatusMessage[]

async function startJob(url: string, session: Session, type: string, input: unknown): Promise<Job> {
  const response = await api(url, session, 'POST', '/api/jobs', { type, input })
  expect(response.status).toBe(202)
  return ((await response.json()) as { job: Job }).job
}

describe('jobs an app defines', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({}, { jobs })
  })
  afterAll(() => server?.stop())

  test('progress arrives in order, then the result; the job over HTTP has the latest progress', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const job = await startJob(server.url, session, 'count', { count: 25 })
    expect(job).toMatchObject({ type: 'count', status: 'pending', progress: null, data: { count: 25 } })
    await socket.next(
      (m) => m.type === 'job_status' && m.jobId === job.id && m.status === 'completed',
      15_000,
    )
    const messages = ofJob(socket, job.id)
    expect(messages.filter((m) => !m.progress).map((m) => m.status)).toEqual([
      'pending',
      'running',
      'completed',
    ])
    expect(messages.filter((m) => m.progress).map((m) => m.progress!.done)).toEqual(
      Array.from({ length: 25 }, (_, i) => i + 1),
    )
    // Nothing after the final status.
    expect(messages.at(-1)!.status).toBe('completed')
    const read = (await (await api(server.url, session, 'GET', `/api/jobs/${job.id}`)).json()) as Job
    expect(read).toMatchObject({
      status: 'completed',
      result: { counted: 25 },
      progress: { step: 'counting', done: 25, total: 25, message: 'at 25' },
    })
    socket.close()
  })

  test('bad input, an unknown type and a type users may not start → 422 naming the field', async () => {
    const session = await signIn(server.url)
    const bad = await api(server.url, session, 'POST', '/api/jobs', {
      type: 'count',
      input: { count: 'ten' },
    })
    expect(bad.status).toBe(422)
    const body = (await bad.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('INVALID_INPUT')
    expect(body.error.message).toStartWith('input.count')
    for (const type of ['nope', 'internal_only']) {
      const refused = await api(server.url, session, 'POST', '/api/jobs', { type, input: {} })
      expect(refused.status).toBe(422)
      expect(((await refused.json()) as { error: { message: string } }).error.message).toStartWith('type')
    }
    // The server itself starts any type.
    const started = await server.herald.jobs.start({
      type: 'internal_only',
      input: {},
      userId: session.user.id,
      byUser: false,
    })
    expect(started.job.status).toBe('pending')
  })

  test('a running job cancelled ends cancelled; cancelling it again → 409', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const job = await startJob(server.url, session, 'wait', {})
    await socket.next((m) => m.type === 'job_status' && m.jobId === job.id && 'progress' in m, 10_000)
    const cancel = await api(server.url, session, 'POST', `/api/jobs/${job.id}/cancel`)
    expect(cancel.status).toBe(202)
    await socket.next(
      (m) => m.type === 'job_status' && m.jobId === job.id && m.status === 'cancelled',
      10_000,
    )
    const again = await api(server.url, session, 'POST', `/api/jobs/${job.id}/cancel`)
    expect(again.status).toBe(409)
    const read = (await (await api(server.url, session, 'GET', `/api/jobs/${job.id}`)).json()) as Job
    expect(read.status).toBe('cancelled')
    expect(runs.get(job.id)).toBe(1)
    // Someone else's job is 404 for every route.
    const other = await signIn(server.url)
    expect((await api(server.url, other, 'POST', `/api/jobs/${job.id}/cancel`)).status).toBe(404)
    socket.close()
  })

  test('GET /api/jobs: newest first, filtered, a page at a time; a bad limit → 422', async () => {
    const session = await signIn(server.url)
    const started: Job[] = []
    for (let i = 0; i < 3; i++) started.push(await startJob(server.url, session, 'count', { count: 1 }))
    const page = (await (await api(server.url, session, 'GET', '/api/jobs?limit=2&type=count')).json()) as {
      jobs: Job[]
      nextBefore: string | null
    }
    expect(page.jobs.map((j) => j.id)).toEqual([started[2]!.id, started[1]!.id])
    expect(page.nextBefore).toBe(started[1]!.id)
    const rest = (await (
      await api(server.url, session, 'GET', `/api/jobs?limit=2&type=count&before=${page.nextBefore}`)
    ).json()) as { jobs: Job[]; nextBefore: string | null }
    expect(rest.jobs.map((j) => j.id)).toEqual([started[0]!.id])
    expect(rest.nextBefore).toBeNull()
    expect((await api(server.url, session, 'GET', '/api/jobs?limit=0')).status).toBe(422)
    expect((await api(server.url, session, 'GET', '/api/jobs?limit=101')).status).toBe(422)
  })
})

describe('a pending job cancelled', () => {
  test('never runs', async () => {
    // Job ids are per database: forget the runs of the other servers' jobs.
    runs.clear()
    const database = await createTestDatabase()
    // An API-only instance records the job; nothing runs it until a worker starts, after the cancellation.
    const api1 = await startTestServer({ ROLE: 'server' }, { jobs, database, keepDatabase: true })
    let jobId: string
    let session: Session
    try {
      session = await signIn(api1.url)
      jobId = (await startJob(api1.url, session, 'wait', {})).id
      const cancel = await api(api1.url, session, 'POST', `/api/jobs/${jobId}/cancel`)
      expect(cancel.status).toBe(202)
      expect(((await cancel.json()) as { job: Job }).job.status).toBe('cancelled')
    } finally {
      await api1.stop()
    }
    const worker = await startTestServer({}, { jobs, database })
    try {
      // A job queued later completes: the worker fetches the older one first (or with it), so it has seen it.
      const later = await startJob(worker.url, session, 'count', { count: 1 })
      await until(
        'the later job to complete',
        async () => {
          const job = (await (await api(worker.url, session, 'GET', `/api/jobs/${later.id}`)).json()) as Job
          return job.status === 'completed' ? job : undefined
        },
        15_000,
      )
      const job = (await (await api(worker.url, session, 'GET', `/api/jobs/${jobId}`)).json()) as Job
      expect(job.status).toBe('cancelled')
      expect(runs.get(jobId)).toBeUndefined()
    } finally {
      await worker.stop()
    }
  }, 60_000)
})

describe.skipIf(!usingPostgres())('progress on two instances (PostgreSQL)', () => {
  test('a job run by one instance reports to a socket on the other, in order', async () => {
    const database = await createTestDatabase()
    const worker = await startTestServer({}, { jobs, database, keepDatabase: true })
    const front = await startTestServer({ ROLE: 'server' }, { jobs, database, keepDatabase: true })
    try {
      const session = await signIn(front.url)
      const socket = await connectAuthenticated(front.wsUrl, session.token)
      const job = await startJob(front.url, session, 'count', { count: 40 })
      await socket.next(
        (m) => m.type === 'job_status' && m.jobId === job.id && m.status === 'completed',
        20_000,
      )
      const messages = ofJob(socket, job.id)
      expect(messages.filter((m) => !m.progress).map((m) => m.status)).toEqual([
        'pending',
        'running',
        'completed',
      ])
      expect(messages.filter((m) => m.progress).map((m) => m.progress!.done)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      )
      expect(messages.at(-1)!.status).toBe('completed')
      socket.close()
    } finally {
      await front.stop()
      await worker.stop()
      await database.close()
    }
  }, 60_000)
})
