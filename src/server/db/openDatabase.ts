import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { ConfigError } from '../errors'
import * as schema from './schema'

export type Schema = typeof schema
/** Both drivers' databases share this surface; queries take it as their first parameter. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0]
/** A database or a transaction: queries that can run inside either take this. */
export type Queryable = Database | Transaction

export interface DatabaseHandle {
  db: Database
  kind: 'pglite' | 'postgres'
  /** The raw PGlite instance (pg-boss runs on it) or postgres-js client. */
  pglite: PGlite | null
  postgres: postgres.Sql | null
  url: string | null
  ping(): Promise<void>
  close(): Promise<void>
}

/** How long opening one connection may take before the query fails as unavailable. */
export const CONNECT_TIMEOUT_SECONDS = 5
/** Longest wait between reconnection attempts of a pool connection. */
export const RECONNECT_BACKOFF_MAX_SECONDS = 1
/** Longest statement a request may run (server side); migrations use their own connection without it. */
export const STATEMENT_TIMEOUT_MS = 30_000

export const migrationsFolder = resolve(import.meta.dir, '../../../drizzle')

export type OpenDatabaseOptions =
  | { databaseUrl: string; poolSize?: number }
  /**
   * dataDir null: in memory (tests). `from`: start from a dump of another PGlite (`dumpDataDir('none')`) instead
   * of an empty cluster: a dump of a migrated database opens several times faster than initdb and the
   * migrations, which matters to a test suite that opens hundreds. The migrations still run on it.
   */
  | { databaseUrl?: null; dataDir: string | null; from?: Blob }

/** Opens the configured database and brings its schema up to date. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.poolSize ?? 10)
  return openPglite(
    'dataDir' in options ? options.dataDir : null,
    'from' in options ? options.from : undefined,
  )
}

async function openPostgres(url: string, poolSize: number): Promise<DatabaseHandle> {
  const client = postgres(url, {
    max: poolSize,
    onnotice: () => {},
    // While the database is unreachable a request waits for a connection at most this long and then
    // answers 503, instead of hanging for the driver's default 30 s (or for ever behind a dropped route).
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    // postgres-js waits before reconnecting by a back-off that grows with failures across the whole pool,
    // up to 20 s by default: after an outage the pool would stay down long after the database is back.
    backoff: (failures: number) => Math.min(0.05 * 2 ** failures, RECONNECT_BACKOFF_MAX_SECONDS),
    connection: {
      application_name: 'herald',
      // A statement stuck behind a lock or an overloaded server ends (57014, a 503) rather than holding a
      // request and a pool connection without bound.
      statement_timeout: STATEMENT_TIMEOUT_MS,
    },
  })
  const db = drizzlePostgres(client, { schema }) as unknown as Database
  // Several instances may start together: one migrates, the others wait on the lock and find nothing to do.
  // A one-connection client holds the session-level lock for the whole migration.
  const migrator = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await migrator`select pg_advisory_lock(727274)`
    await migratePostgres(drizzlePostgres(migrator, { schema }), { migrationsFolder })
  } catch (error) {
    await client.end({ timeout: 1 })
    throw error
  } finally {
    await migrator.end({ timeout: 5 })
  }
  return {
    db,
    kind: 'postgres',
    pglite: null,
    postgres: client,
    url,
    async ping() {
      await client`select 1`
    },
    async close() {
      await client.end({ timeout: 5 })
    },
  }
}

async function openPglite(dataDir: string | null, from?: Blob): Promise<DatabaseHandle> {
  let releaseLock = () => {}
  let directory: string | undefined
  if (dataDir !== null) {
    directory = join(dataDir, 'pglite')
    mkdirSync(directory, { recursive: true })
    releaseLock = acquireDirectoryLock(dataDir)
  }
  let client: PGlite
  try {
    client = await PGlite.create({
      ...(directory ? { dataDir: directory } : {}),
      ...(from ? { loadDataDir: from } : {}),
    })
    const db = drizzlePglite(client, { schema })
    await migratePglite(db, { migrationsFolder })
  } catch (error) {
    releaseLock()
    throw error
  }
  const db = drizzlePglite(client, { schema }) as unknown as Database
  return {
    db,
    kind: 'pglite',
    pglite: client,
    postgres: null,
    url: null,
    async ping() {
      await db.execute(sql`select 1`)
    },
    async close() {
      try {
        if (!client.closed) await client.close()
      } finally {
        releaseLock()
      }
    },
  }
}

/**
 * PGlite is single-process: a second process opening the same files would corrupt them. A pid file guards
 * the directory; a lock left by a process that no longer runs is taken over.
 */
function acquireDirectoryLock(dataDir: string): () => void {
  const file = join(dataDir, 'pglite.lock')
  for (let attempt = 0; ; attempt++) {
    try {
      // 'wx' creates atomically, so two processes starting together cannot both win.
      writeFileSync(file, String(process.pid), { flag: 'wx' })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error
      const owner = Number(readFileSync(file, 'utf8').trim())
      if (owner && owner !== process.pid && isRunning(owner)) {
        throw new ConfigError(
          `DATA_DIR ${dataDir} is already in use by another Herald process (pid ${owner}); stop it, choose another DATA_DIR, or set DATABASE_URL to share a PostgreSQL.`,
        )
      }
      rmSync(file, { force: true })
    }
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file)
    } catch {}
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
