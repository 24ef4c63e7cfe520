import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { eq } from 'drizzle-orm'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { openDatabase } from './openDatabase'
import { users } from './schema'

// Opening PGlite and running the migrations takes a few seconds on a busy machine.
setDefaultTimeout(30_000)

const root = resolve(import.meta.dir, '../../..')
const bun = join(root, 'node_modules/.bin/bun')
const ADDRESS = '0x000000000000000000000000000000000000dEaD'

const tempDirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-db-'))
  tempDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

/** Runs a command in a child process with only the environment given (plus PATH and HOME). */
async function run(cmd: string[], env: Record<string, string>, timeoutMs = 20_000) {
  const child = Bun.spawn(cmd, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  // A child that started instead of failing would run forever: it is stopped, and the test fails on its code.
  const timer = setTimeout(() => child.kill(), timeoutMs)
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ])
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** A pid that certainly belongs to no running process: one of a child that has exited. */
async function deadPid(): Promise<number> {
  const child = Bun.spawn([bun, '-e', '0'], { stdout: 'ignore', stderr: 'ignore' })
  await child.exited
  return child.pid
}

describe('PGlite in DATA_DIR', () => {
  // The first test's directory, reused by the lock tests (a new one costs initdb: seconds on a busy machine).
  let persistentDir = ''

  test('keeps its data across close and reopen, and holds a lock only while open', async () => {
    const dataDir = tempDir()
    persistentDir = dataDir
    const lock = join(dataDir, 'pglite.lock')
    const first = await openDatabase({ dataDir })
    expect(first.kind).toBe('pglite')
    expect(readFileSync(lock, 'utf8').trim()).toBe(String(process.pid))
    await first.db.insert(users).values({ address: ADDRESS })
    await first.close()
    expect(existsSync(lock)).toBe(false)
    // Closing twice is harmless.
    await first.close()

    const second = await openDatabase({ dataDir })
    try {
      const rows = await second.db
        .select({ address: users.address })
        .from(users)
        .where(eq(users.address, ADDRESS))
      expect(rows).toEqual([{ address: ADDRESS }])
      // Reopening ran the migrations again without effect: nothing lost, nothing doubled.
      await second.ping()
      expect(await second.db.select({ id: users.id }).from(users)).toHaveLength(1)
    } finally {
      await second.close()
    }
  })

  test('a second process opening the same DATA_DIR gets a clear error naming DATA_DIR', async () => {
    // The first test's database when there is one: reopening it is quicker than a new one, and any will do.
    const dataDir = persistentDir || tempDir()
    const held = await openDatabase({ dataDir })
    try {
      // A small script in a temp dir, as another tool sharing the directory would be.
      const script = join(tempDir(), 'open.ts')
      writeFileSync(
        script,
        [
          `import { openDatabase } from ${JSON.stringify(join(root, 'src/server/db/openDatabase.ts'))}`,
          'try {',
          `  const handle = await openDatabase({ dataDir: ${JSON.stringify(dataDir)} })`,
          '  await handle.close()',
          "  console.log('opened')",
          '} catch (error) {',
          '  console.log(JSON.stringify({ name: error.name, message: error.message }))',
          '  process.exit(3)',
          '}',
        ].join('\n'),
      )
      const result = await run([bun, script], {})
      expect(result.code).toBe(3)
      const error = JSON.parse(result.stdout.trim()) as { name: string; message: string }
      expect(error.name).toBe('ConfigError')
      expect(error.message).toContain('DATA_DIR')
      expect(error.message).toContain(dataDir)
      expect(error.message).toContain(String(process.pid))

      // Starting a whole server there (`npm start`) fails the same way: exit 1, one sentence on stderr.
      const start = await run([bun, 'src/server/main.ts'], {
        DATA_DIR: dataDir,
        PORT: '0',
        LOCAL_CHAIN: 'false',
        LOG_LEVEL: 'silent',
      })
      expect(start.code).toBe(1)
      expect(start.stderr.trim()).not.toContain('\n')
      expect(start.stderr).toContain('DATA_DIR')
      expect(start.stderr).toContain(dataDir)

      // The holder is unaffected: its lock and its data are intact.
      expect(readFileSync(join(dataDir, 'pglite.lock'), 'utf8').trim()).toBe(String(process.pid))
      await held.ping()
    } finally {
      await held.close()
    }
  })

  test('a stale lock left by a process that no longer runs is taken over', async () => {
    // The database of the first test, as if its process had died while holding it.
    const dataDir = persistentDir || tempDir()
    if (!persistentDir) {
      const before = await openDatabase({ dataDir })
      await before.db.insert(users).values({ address: ADDRESS })
      await before.close()
    }
    const lock = join(dataDir, 'pglite.lock')
    writeFileSync(lock, String(await deadPid()))

    const after = await openDatabase({ dataDir })
    try {
      expect(readFileSync(lock, 'utf8').trim()).toBe(String(process.pid))
      expect(await after.db.select({ address: users.address }).from(users)).toEqual([{ address: ADDRESS }])
    } finally {
      await after.close()
    }
    expect(existsSync(lock)).toBe(false)
  })
})

describe('PostgreSQL', () => {
  test.skipIf(!usingPostgres())('instances starting together migrate once and share the data', async () => {
    const { default: postgres } = await import('postgres')
    const adminUrl = process.env.HERALD_TEST_DATABASE_URL!
    const name = `herald_open_${Date.now().toString(36)}`
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database ${name}`)
    try {
      const url = new URL(adminUrl)
      url.pathname = `/${name}`
      const [a, b] = await Promise.all([
        openDatabase({ databaseUrl: url.toString(), poolSize: 2 }),
        openDatabase({ databaseUrl: url.toString(), poolSize: 2 }),
      ])
      try {
        expect(a.kind).toBe('postgres')
        await a.db.insert(users).values({ address: ADDRESS })
        expect(await b.db.select({ address: users.address }).from(users)).toEqual([{ address: ADDRESS }])
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    }
  })
})

describe('npm start', () => {
  for (const [variable, env] of [
    ['PORT', { PORT: 'abc' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['JWT_SECRET', { NODE_ENV: 'production' }],
  ] as const) {
    test(`a bad ${variable} exits with code 1 and one sentence naming it on stderr`, async () => {
      const result = await run([bun, 'src/server/main.ts'], { DATA_DIR: tempDir(), ...env })
      expect(result.code).toBe(1)
      const stderr = result.stderr.trim()
      expect(stderr).not.toContain('\n')
      expect(stderr).toContain(variable)
      expect(stderr).not.toMatch(/\bat .*:\d+/)
      expect(stderr).toMatch(/^Herald cannot start: .*\.$/)
      expect(result.stdout).toBe('')
    })
  }
})
