import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import postgres from 'postgres'
import { type DatabaseHandle, migrationsFolder, openDatabase } from '../../src/server/db/openDatabase'

let migratedPglite: Promise<Blob> | null = null

/**
 * A dump of an in-memory PGlite with every migration applied: each test database starts from it (a copy,
 * about half a second) instead of from initdb and the migrations (several seconds on a busy machine), and
 * openDatabase still runs the migrations on the copy and finds nothing to do. Made once per process, and
 * kept in node_modules/.cache under a hash of the migrations and the PGlite version, so that a later run
 * skips initdb altogether.
 */
export function migratedPgliteDump(): Promise<Blob> {
  migratedPglite ??= (async () => {
    const file = dumpCacheFile()
    try {
      return new Blob([readFileSync(file)])
    } catch {}
    const handle = await openDatabase({ dataDir: null })
    try {
      const dump = await handle.pglite!.dumpDataDir('none')
      saveDump(file, new Uint8Array(await dump.arrayBuffer()))
      return dump
    } finally {
      await handle.close()
    }
  })()
  // A failed attempt is not cached: the next test tries again (and reports its own error).
  migratedPglite.catch(() => {
    migratedPglite = null
  })
  return migratedPglite
}

const nodeModules = resolve(import.meta.dir, '../../node_modules')
const cacheDir = join(nodeModules, '.cache/herald-tests')

function dumpCacheFile(): string {
  const hash = createHash('sha256').update(
    readFileSync(join(nodeModules, '@electric-sql/pglite/package.json')),
  )
  const files = readdirSync(migrationsFolder, { recursive: true, encoding: 'utf8' }).sort()
  for (const name of files) {
    const path = join(migrationsFolder, name)
    if (statSync(path).isFile()) hash.update(`${name}\n`).update(readFileSync(path))
  }
  return join(cacheDir, `pglite-${hash.digest('hex').slice(0, 16)}.tar`)
}

/** Written whole then renamed, so a process reading it never sees half a file; stale dumps are removed. */
function saveDump(file: string, bytes: Uint8Array) {
  try {
    mkdirSync(cacheDir, { recursive: true })
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith('pglite-') && join(cacheDir, name) !== file)
        rmSync(join(cacheDir, name), { force: true })
    }
    const partial = `${file}.${process.pid}.partial`
    writeFileSync(partial, bytes)
    renameSync(partial, file)
  } catch {
    // Only a cache: the next run makes the dump again.
  }
}

/**
 * A fresh database with the real migrations: in-memory PGlite by default, or, when
 * HERALD_TEST_DATABASE_URL is set (CI's second pass), a new database on that PostgreSQL, dropped on close.
 */
export async function createTestDatabase(): Promise<DatabaseHandle> {
  const adminUrl = process.env.HERALD_TEST_DATABASE_URL
  if (!adminUrl) return openDatabase({ dataDir: null, from: await migratedPgliteDump() })
  const name = `herald_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const handle = await openDatabase({ databaseUrl: url.toString(), poolSize: 10 })
  const close = handle.close
  return {
    ...handle,
    async close() {
      await close()
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

export const usingPostgres = () => Boolean(process.env.HERALD_TEST_DATABASE_URL)

/**
 * A fresh, empty database on HERALD_TEST_DATABASE_URL's server, for Herald processes to share (the first to
 * start migrates it). `drop()` removes it, disconnecting whoever is still connected (a killed process's
 * sessions included). Throws when HERALD_TEST_DATABASE_URL is not set.
 */
export async function createTestDatabaseUrl(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.HERALD_TEST_DATABASE_URL
  if (!adminUrl) throw new Error('createTestDatabaseUrl needs HERALD_TEST_DATABASE_URL')
  const name = `herald_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  let dropped: Promise<void> | null = null
  return {
    url: url.toString(),
    drop() {
      dropped ??= (async () => {
        try {
          await admin.unsafe(`drop database if exists ${name} with (force)`)
        } finally {
          await admin.end({ timeout: 5 })
        }
      })()
      return dropped
    },
  }
}
