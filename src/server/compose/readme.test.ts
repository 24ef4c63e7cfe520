import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'
import type { Job } from '../../shared/protocol'

// The README's "Use Herald in your app" examples, run as they are written: every ```ts block whose first line
// names a file (`// app.ts`) is written to a folder, its `herald/*` imports pointed at this repository's
// sources (what the installed package holds), then app.ts runs as a process and publisher.ts against it.

const repository = join(import.meta.dir, '../../..')
const ADMIN_KEY = 'readme-admin-key-0123456789abcdef'
const entries: Record<string, string> = {
  'herald/server': join(repository, 'src/server/index.ts'),
  'herald/admin': join(repository, 'src/client/admin/index.ts'),
  'herald/client': join(repository, 'src/client/sdk/index.ts'),
}

/** The named code blocks of the README's section. */
function readmeExamples(readme: string): Map<string, string> {
  const start = readme.indexOf('## Use Herald in your app')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  const files = new Map<string, string>()
  for (const [, code] of section.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const name = /^\/\/ (\w+\.ts)\n/.exec(code!)?.[1]
    if (name) files.set(name, code!)
  }
  return files
}

const examples = readmeExamples(readFileSync(join(repository, 'README.md'), 'utf8'))
let folder: string
let app: HeraldProcess
let dropDatabase: (() => Promise<void>) | null = null
let session: Session
let socket: TestSocket

beforeAll(async () => {
  // Inside the repository, so `elysia` resolves from its node_modules as from an app's.
  mkdirSync(join(repository, '.tmp'), { recursive: true })
  folder = mkdtempSync(join(repository, '.tmp', 'readme-'))
  for (const [name, code] of examples)
    writeFileSync(
      join(folder, name),
      code.replace(/from '(herald\/\w+)'/g, (whole, entry: string) =>
        entries[entry] ? `from '${entries[entry]}'` : whole,
      ),
    )
  const env: Record<string, string> = { SIWE_DOMAINS: 'shop.example', HERALD_ADMIN_KEY: ADMIN_KEY }
  if (usingPostgres()) {
    const database = await createTestDatabaseUrl()
    env.DATABASE_URL = database.url
    dropDatabase = database.drop
  }
  app = await spawnHerald(env, {
    label: 'readme app',
    entry: join(folder, 'app.ts'),
    cwd: folder,
    ready: /My shop on (http:\/\/\S+)/,
    startupTimeoutMs: 60_000,
  })
  session = await signIn(app.url)
  socket = await connectAuthenticated(app.wsUrl, session.token)
})

afterAll(async () => {
  socket?.close()
  const exit = await app?.kill('SIGTERM')
  await dropDatabase?.()
  rmSync(folder, { recursive: true, force: true })
  expect(exit?.code).toBe(0)
})

describe('README: Use Herald in your app', () => {
  test('the section has the three files', () => {
    expect([...examples.keys()].sort()).toEqual(['app.ts', 'jobs.ts', 'publisher.ts'])
  })

  test('app.ts: its own route, a notification from its route, its job with progress', async () => {
    expect(await (await fetch(`${app.url}/`)).text()).toBe('My shop')
    const order = await fetch(`${app.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ buyer: session.user.address, item: 'A lamp' }),
    })
    const { notificationId } = (await order.json()) as { notificationId: string }
    await socket.next(
      (m) =>
        m.type === 'notification' &&
        (m as { notification: { id: string } }).notification.id === notificationId,
    )

    const started = await fetch(`${app.url}/exports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ owner: session.user.id, days: 3 }),
    })
    const { job } = (await started.json()) as { job: Job }
    await socket.next(
      (m) => m.type === 'job_status' && (m as { jobId: string; status: string }).status === 'completed',
      30_000,
    )
    const progress = socket.messages.flatMap((m) =>
      m.type === 'job_status' && (m as { jobId: string }).jobId === job.id && 'progress' in m
        ? [(m as { progress: { done: number } }).progress.done]
        : [],
    )
    expect(progress).toEqual([1, 2, 3])
    const finished = (await (
      await fetch(`${app.url}/api/jobs/${job.id}`, { headers: bearer(session.token) })
    ).json()) as Job
    expect(finished).toMatchObject({ status: 'completed', result: { orders: 18 } })
    expect(
      socket.messages.filter(
        (m) =>
          m.type === 'notification' &&
          (m as { notification: { type: string } }).notification.type === 'export_ready',
      ),
    ).toHaveLength(1)

    // Users start it themselves too (userStartable).
    const byUser = await fetch(`${app.url}/api/jobs`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'export_orders', input: { days: 40 } }),
    })
    expect(byUser.status).toBe(422)
  })

  test('publisher.ts publishes through herald/admin against the app', async () => {
    const publisher = Bun.spawn([process.execPath, join(folder, 'publisher.ts')], {
      cwd: folder,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HERALD_URL: app.url, HERALD_ADMIN_KEY: ADMIN_KEY },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [code, out, err] = await Promise.all([
      publisher.exited,
      new Response(publisher.stdout).text(),
      new Response(publisher.stderr).text(),
    ])
    expect({ code, err }).toEqual({ code: 0, err: '' })
    expect(out).toMatch(/^stored \d+\n404 NOT_FOUND\n$/)
  })
})
