import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { type DatabaseHandle, openDatabase } from '../../src/server/db/openDatabase'

/**
 * A fresh database with the real migrations: in-memory PGlite by default, or, when
 * HERALD_TEST_DATABASE_URL is set (CI's second pass), a new database on that PostgreSQL, dropped on close.
 */
export async function createTestDatabase(): Promise<DatabaseHandle> {
  const adminUrl = process.env.HERALD_TEST_DATABASE_URL
  if (!adminUrl) return openDatabase({ dataDir: null })
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
