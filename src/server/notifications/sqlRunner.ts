import type { Database } from '../db/openDatabase'

/**
 * Plain SQL text with positional parameters on whichever driver the database has. The hot notification
 * statements go through this rather than drizzle: drizzle sends every statement unprepared, which postgres-js
 * turns into two round trips (describe, then execute) when it has parameters; a prepared statement is one.
 */
export interface SqlRunner {
  /** Whether statements sent together run at the same time (a pool) or one after another (PGlite). */
  readonly concurrent: boolean
  query<Row>(text: string, params: unknown[]): Promise<Row[]>
  transaction<T>(work: (runner: SqlRunner) => Promise<T>): Promise<T>
}

interface PostgresJsLike {
  unsafe(text: string, params: unknown[], options: { prepare: boolean }): Promise<unknown[]>
  begin<T>(work: (tx: PostgresJsLike) => Promise<T>): Promise<T>
}
interface PgliteLike {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[] }>
  transaction<T>(work: (tx: PgliteLike) => Promise<T>): Promise<T>
}

function postgresRunner(client: PostgresJsLike): SqlRunner {
  return {
    concurrent: true,
    query: async <Row>(text: string, params: unknown[]) =>
      (await client.unsafe(text, params, { prepare: true })) as Row[],
    transaction: (work) => client.begin((tx) => work(postgresRunner(tx))),
  }
}

function pgliteRunner(client: PgliteLike): SqlRunner {
  return {
    concurrent: false,
    query: async <Row>(text: string, params: unknown[]) => (await client.query(text, params)).rows as Row[],
    transaction: (work) => client.transaction((tx) => work(pgliteRunner(tx))),
  }
}

/** drizzle keeps its driver's client on `$client` (postgres-js's `Sql` or a PGlite instance). */
export function sqlRunner(db: Database): SqlRunner {
  const client = (db as unknown as { $client?: unknown }).$client
  if (client && typeof (client as PostgresJsLike).unsafe === 'function')
    return postgresRunner(client as PostgresJsLike)
  if (client && typeof (client as PgliteLike).query === 'function') return pgliteRunner(client as PgliteLike)
  throw new Error('sqlRunner: the database has neither a postgres-js nor a PGlite client')
}
