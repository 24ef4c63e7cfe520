import { afterAll, beforeAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { type HeraldProcess, spawnHerald } from './heraldProcess'
import { createTestDatabaseUrl } from './testDatabase'

export interface HeraldPair {
  a: HeraldProcess
  b: HeraldProcess
  /** A client of their database, for checks and for locks a test holds. */
  sql: postgres.Sql
  /** Kills both (already killed ones are fine) and drops the database. */
  stop(): Promise<void>
}

/**
 * Two Herald processes ("a" and "b") on one fresh database of HERALD_TEST_DATABASE_URL's server, with the admin
 * key given and `env` on top: two instances of one deployment, each with a DATA_DIR of its own (removed by
 * stop), so nothing they generate lands in the checkout.
 */
export async function startHeraldPair(
  adminKey: string,
  env: Record<string, string> = {},
): Promise<HeraldPair> {
  const database = await createTestDatabaseUrl()
  const shared = { DATABASE_URL: database.url, HERALD_ADMIN_KEY: adminKey, LOG_LEVEL: 'warn', ...env }
  const dirs = ['a', 'b'].map((label) => mkdtempSync(join(tmpdir(), `herald-pair-${label}-`)))
  const removeDirs = () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
  const started: HeraldProcess[] = []
  try {
    started.push(await spawnHerald({ DATA_DIR: dirs[0]!, ...shared }, { label: 'a' }))
    started.push(await spawnHerald({ DATA_DIR: dirs[1]!, ...shared }, { label: 'b' }))
  } catch (error) {
    await Promise.all(started.map((herald) => herald.kill('SIGKILL')))
    await database.drop()
    removeDirs()
    throw error
  }
  const sql = postgres(database.url, { max: 3, onnotice: () => {} })
  return {
    a: started[0]!,
    b: started[1]!,
    sql,
    async stop() {
      await Promise.all(started.map((herald) => herald.kill('SIGKILL')))
      await sql.end({ timeout: 5 })
      await database.drop()
      removeDirs()
    },
  }
}

/**
 * startHeraldPair for the enclosing describe: started before its tests, stopped after them. The answer's
 * properties are read inside the tests (they are there once beforeAll has run).
 */
export function useHeraldPair(adminKey: string, env: Record<string, string> = {}): Omit<HeraldPair, 'stop'> {
  let pair: HeraldPair | undefined
  beforeAll(async () => {
    pair = await startHeraldPair(adminKey, env)
  }, 60_000)
  afterAll(async () => {
    await pair?.stop()
  }, 30_000)
  const started = () => {
    if (!pair) throw new Error('the Herald pair is not started (use it inside a test)')
    return pair
  }
  return {
    get a() {
      return started().a
    },
    get b() {
      return started().b
    },
    get sql() {
      return started().sql
    },
  }
}
