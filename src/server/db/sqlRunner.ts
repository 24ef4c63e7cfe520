import { type SQL, sql } from 'drizzle-orm'
import type { Database, Transaction } from '../db/openDatabase'

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

/** `text` with its `$n` placeholders as drizzle parameters, so drizzle sends the values alongside. */
function withParams(text: string, params: unknown[]): SQL {
  const chunks: SQL[] = []
  let last = 0
  for (const match of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(last, match.index)), sql`${params[Number(match[1]) - 1]}`)
    last = match.index + match[0].length
  }
  chunks.push(sql.raw(text.slice(last)))
  return sql.join(chunks)
}

/**
 * The same statements inside a drizzle transaction that the caller holds (a job's step, the transfer
 * watcher's block), so a notification stored there is stored the one way every notification is.
 */
export function transactionRunner(tx: Transaction): SqlRunner {
  const runner: SqlRunner = {
    concurrent: false,
    query: async <Row>(text: string, params: unknown[]) => {
      // postgres-js answers the rows themselves, PGlite an object holding them.
      const result = (await tx.execute(withParams(text, params))) as unknown
      return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Row[]
    },
    // Already in one: the work joins it.
    transaction: (work) => work(runner),
  }
  return runner
}
