import { readFileSync } from 'node:fs'

/** One user of a run: the id the server knows and the token the client presents. */
export interface BenchUser {
  userId: string
  token: string
}

/** The user ids of BENCH_USERS_FILE (the servers keep only the ids; the client reads the tokens). */
export function readUserIds(): string[] {
  const file = process.env.BENCH_USERS_FILE
  if (!file) throw new Error('BENCH_USERS_FILE is not set')
  return (JSON.parse(readFileSync(file, 'utf8')) as BenchUser[]).map((user) => user.userId)
}
