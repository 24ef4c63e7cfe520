import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type HeraldProcess, spawnHerald } from '../helpers/heraldProcess'
import { nodeBinary } from '../helpers/nodeBundle'
import { createTestDatabaseUrl, usingPostgres } from '../helpers/testDatabase'
import { until } from '../helpers/until'
import { type Session, signIn } from '../helpers/wallet'

// The package as a user gets it (docs/protocol.md §9): `npm pack`, installed from the tarball into a fresh
// project outside the repository, whose programs import herald/server, herald/client and herald/admin by name:
// an Elysia app with Herald mounted and a job of its own under Bun, the SDK under Bun and Node 20, herald/admin
// under Node 20, and the app type-checked against the shipped declarations.

const repository = join(import.meta.dir, '../..')
const version = (name: string) =>
  (
    JSON.parse(readFileSync(join(repository, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string
    }
  ).version
const ADMIN_KEY = 'pack-admin-key-0123456789abcdef0123'

let work: string
let project: string
let app: HeraldProcess
let session: Session
let dropDatabase: (() => Promise<void>) | null = null
let databaseUrl: string | null = null

function run(command: string[], cwd: string) {
  const result = Bun.spawnSync(command, { cwd, stdout: 'pipe', stderr: 'pipe', env: process.env })
  if (result.exitCode !== 0)
    throw new Error(`${command.join(' ')} failed (${result.exitCode}):\n${result.stdout}\n${result.stderr}`)
  return result.stdout.toString()
}

/** A program of the project, its output lines as they come. */
function start(command: string[], env: Record<string, string>) {
  const lines: string[] = []
  const proc = Bun.spawn(command, {
    cwd: project,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const errors = new Response(proc.stderr).text()
  void (async () => {
    let buffered = ''
    for await (const chunk of proc.stdout) {
      buffered += new TextDecoder().decode(chunk)
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      for (const line of parts) if (line.startsWith('{')) lines.push(line)
    }
  })()
  return {
    lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    line: (what: string, match: (line: Record<string, unknown>) => boolean) =>
      until(what, () => lines.map((line) => JSON.parse(line) as Record<string, unknown>).find(match), 30_000),
    async exit() {
      const code = await proc.exited
      return { code, stderr: await errors }
    },
    kill: () => proc.kill(),
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'herald-pack-'))
  run([process.execPath, 'scripts/build-package.ts'], repository)
  // The scripts (prepack) just ran above; packing runs nothing else.
  run(['npm', 'pack', '--ignore-scripts', '--silent', '--pack-destination', work], repository)
  const tarball = readdirSync(work).find((file) => file.endsWith('.tgz'))!
  project = join(work, 'project')
  run(['mkdir', '-p', project], work)
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  )
  run(
    [
      'npm',
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      join(work, tarball),
      `elysia@${version('elysia')}`,
      `ws@${version('ws')}`,
      // herald/react's peer (optional: only apps that use the React bindings install it).
      `react@${version('react')}`,
    ],
    project,
  )
  for (const file of ['server.ts', 'standalone.ts', 'client.mjs', 'admin.mjs'])
    copyFileSync(join(import.meta.dir, 'consumer', file), join(project, file))

  const env: Record<string, string> = { DATA_DIR: join(project, 'data'), HERALD_ADMIN_KEY: ADMIN_KEY }
  if (usingPostgres()) {
    const database = await createTestDatabaseUrl()
    env.DATABASE_URL = database.url
    dropDatabase = database.drop
    databaseUrl = database.url
  }
  app = await spawnHerald(env, {
    label: 'consumer',
    entry: join(project, 'server.ts'),
    cwd: project,
    ready: /App listening on (http:\/\/\S+)/,
    startupTimeoutMs: 90_000,
  })
  session = await signIn(app.url)
}, 600_000)

afterAll(async () => {
  const exit = await app?.kill('SIGTERM')
  await dropDatabase?.()
  if (work) rmSync(work, { recursive: true, force: true })
  expect(exit?.code ?? 0).toBe(0)
})

describe('the packed package in a fresh project', () => {
  test('the tarball holds the built entries and no tests', () => {
    const installed = join(project, 'node_modules', 'herald')
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string }>
    }
    expect(Object.keys(manifest.exports)).toEqual(
      expect.arrayContaining(['./server', './client', './react', './protocol', './admin']),
    )
    for (const entry of Object.values(manifest.exports))
      if (typeof entry === 'object') expect(Bun.file(join(installed, entry.types)).size).toBeGreaterThan(0)
    expect(run(['find', '.', '-name', '*.test.ts'], installed).trim()).toBe('')
  })

  test('under Bun: the app serves its own route beside Herald’s; notify and jobs.start reach the SDK', async () => {
    expect(await (await fetch(`${app.url}/own`)).json()).toEqual({ own: true })
    const client = start([process.execPath, 'client.mjs'], {
      HERALD_URL: app.url,
      HERALD_TOKEN: session.token,
      KIND: 'job',
    })
    await client.line('the Bun client connected', (line) => line.ready === true)
    const kicked = (await (
      await fetch(`${app.url}/kick`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: session.user.id }),
      })
    ).json()) as { notificationId: string; jobId: string }
    const { code, stderr } = await client.exit()
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    const lines = client.lines()
    expect(lines.some((line) => (line.notification as { id?: string })?.id === kicked.notificationId)).toBe(
      true,
    )
    expect(lines.filter((line) => 'progress' in line).map((line) => line.progress)).toEqual([1, 2, 3])
    expect(lines.at(-1)).toEqual({ completed: kicked.jobId })
  })

  test.skipIf(!nodeBinary)('under Node 20: the SDK receives what herald/admin publishes', async () => {
    const env = { HERALD_URL: app.url, HERALD_TOKEN: session.token, KIND: 'notification' }
    const client = start([nodeBinary!, 'client.mjs'], env)
    await client.line('the Node client connected', (line) => line.ready === true)
    const admin = start([nodeBinary!, 'admin.mjs'], {
      HERALD_URL: app.url,
      HERALD_ADMIN_KEY: ADMIN_KEY,
      HERALD_USER_ID: session.user.id,
    })
    expect(await admin.exit()).toEqual({ code: 0, stderr: '' })
    const [published] = admin.lines() as [{ notification: { id: string }; node: string }]
    expect(published.node).toStartWith('20.')
    expect(await client.exit()).toEqual({ code: 0, stderr: '' })
    const received = client.lines().find((line) => 'notification' in line) as { notification: { id: string } }
    expect(received.notification.id).toBe(published.notification.id)
  })

  test('under Bun: serveHerald serves Herald on its own port with the web app, as npm start does', async () => {
    // Its own DATA_DIR (PGlite serves one process); on PostgreSQL the consumer app's database.
    const standalone = await spawnHerald(
      { DATA_DIR: join(project, 'standalone-data'), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
      { label: 'standalone', entry: join(project, 'standalone.ts'), cwd: project, startupTimeoutMs: 90_000 },
    )
    try {
      const { port } = new URL(standalone.url)
      expect(await (await fetch(`${standalone.url}/health`)).json()).toMatchObject({ status: 'ok', db: 'ok' })
      const page = await fetch(`${standalone.url}/`)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toContain('text/html')
      const config = (await (await fetch(`${standalone.url}/api/config`)).json()) as { siweDomain: string }
      expect(config.siweDomain).toBe(`127.0.0.1:${port}`)
      await signIn(standalone.url)
    } finally {
      expect((await standalone.kill('SIGTERM')).code).toBe(0)
    }
  })

  test('herald/react and herald/protocol load under Bun and Node 20', () => {
    const probe = `const react = await import('herald/react'); const protocol = await import('herald/protocol');
      console.log(JSON.stringify([typeof react.HeraldProvider, typeof react.useNotifications, typeof protocol.isMessage]))`
    writeFileSync(join(project, 'probe.mjs'), probe)
    const expected = JSON.stringify(['function', 'function', 'function'])
    expect(run([process.execPath, 'probe.mjs'], project).trim()).toBe(expected)
    if (nodeBinary) expect(run([nodeBinary, 'probe.mjs'], project).trim()).toBe(expected)
  })

  test('the app type-checks against the shipped declarations', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ESNext',
          module: 'Preserve',
          moduleResolution: 'bundler',
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['bun'],
          // Bun's own types, from the repository's tools (the project has no TypeScript installed).
          typeRoots: [join(repository, 'node_modules/@types')],
        },
        files: ['server.ts', 'standalone.ts'],
      }),
    )
    run([join(repository, 'node_modules/.bin/tsc'), '-p', project], project)
  })
})
