import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createPublicClient, type Hex, http } from 'viem'
import { foundry } from 'viem/chains'
import {
  ANVIL_ADDRESSES,
  ANVIL_KEYS,
  startTestChain,
  type TestChain,
  transactionCount,
} from '../../../test/helpers/anvil'
import { range, tempDirs, until } from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import type { Job } from '../../shared/protocol'

/**
 * "Nonces are safe across concurrent jobs and processes" (sendRecordedTransaction: an advisory lock per sender,
 * then max(chain's pending nonce, last recorded + 1)), with two real OS processes on one PostgreSQL and one
 * anvil, both holding the same deployer key. JOBS_PER_PROCESS jobs are started through each process's API and
 * held at a barrier by the workers of both, then all of them send SENDS_PER_JOB transactions at once: every one
 * is mined, under nonces that are distinct and contiguous, and the deployer's nonce advances by exactly their
 * number. The jobs have no retry, so one collision (a duplicate nonce row, "nonce too low", a replaced
 * transaction) fails a job: without the advisory lock, several jobs of each run fail on the unique index of
 * (chain, sender, nonce). PostgreSQL only: two processes share a database only there.
 */

const JOBS_PER_PROCESS = 10
const SENDS_PER_JOB = 2
const DEPLOYER = ANVIL_ADDRESSES[0]
const RECIPIENT = ANVIL_ADDRESSES[2]

interface SendResult {
  pid: number
  sent: { nonce: number; hash: Hex; status: string }[]
}

describe.skipIf(!usingPostgres())('nonces across two processes (needs HERALD_TEST_DATABASE_URL)', () => {
  let anvil: TestChain
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>> | undefined
  const processes: HeraldProcess[] = []
  const dirs = tempDirs('herald-nonces-')

  beforeAll(async () => {
    anvil = await startTestChain()
    database = await createTestDatabaseUrl()
    const shared = {
      DATABASE_URL: database.url,
      CHAIN_RPC_URL: anvil.rpcUrl,
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
      // Room for exactly a process's share at the barrier: all jobs waiting there at once means both hold some.
      JOB_CONCURRENCY: String(JOBS_PER_PROCESS),
      JOB_TIMEOUT_SECONDS: '60',
      AUTH_RATE_PER_MINUTE: '100000',
    }
    // The first migrates; the second starts on the migrated database.
    for (const label of ['first', 'second'])
      processes.push(
        await spawnHerald(
          { ...shared, DATA_DIR: dirs.make() },
          { label, entry: 'test/fixtures/jobsMain.ts', startupTimeoutMs: 90_000 },
        ),
      )
  }, 200_000)

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')))
    await database?.drop()
    await anvil?.stop()
    dirs.cleanup()
  }, 30_000)

  const output = () => processes.map((p) => p.output()).join('\n')

  test('jobs of both processes sending at once: every transaction mined, nonces distinct and contiguous', async () => {
    const release = join(dirs.make(), 'release')
    const before = await transactionCount(anvil.rpcUrl, DEPLOYER)
    // Each process gets its own jobs through its own API (pg-boss may still hand a job to either worker).
    const started: { url: string; session: Session; id: string }[] = []
    for (const herald of processes) {
      const session = await signIn(herald.url)
      for (let i = 0; i < JOBS_PER_PROCESS; i++) {
        const response = await fetch(`${herald.url}/api/jobs`, {
          method: 'POST',
          headers: { ...bearer(session.token), 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'send', input: { release, to: RECIPIENT, sends: SENDS_PER_JOB } }),
        })
        expect(response.status).toBe(202)
        started.push({ url: herald.url, session, id: ((await response.json()) as { job: Job }).job.id })
      }
    }
    const read = async ({ url, session, id }: (typeof started)[number]) =>
      (await (await fetch(`${url}/api/jobs/${id}`, { headers: bearer(session.token) })).json()) as Job
    // Every job at the barrier, so they all send together, from both processes.
    let seen: string[] = []
    await until(
      'every job to wait at the barrier',
      async () => {
        const all = await Promise.all(started.map(read))
        seen = all.map((job) => `${job.status}:${job.progress?.step ?? '-'}:${job.progress?.message ?? ''}`)
        return all.every((job) => job.progress?.step === 'waiting') ? true : undefined
      },
      60_000,
      100,
    ).catch((error) => {
      throw new Error(`${(error as Error).message}: ${seen.join(' ')}\n${output()}`)
    })
    writeFileSync(release, '')
    const jobs = await until(
      'every job to end',
      async () => {
        const all = await Promise.all(started.map(read))
        return all.every((job) => ['completed', 'failed', 'cancelled'].includes(job.status)) ? all : undefined
      },
      90_000,
      200,
    )
    for (const job of jobs)
      expect({ id: job.id, status: job.status, error: job.error ?? null }, output()).toEqual({
        id: job.id,
        status: 'completed',
        error: null,
      })
    const results = jobs.map((job) => job.result as unknown as SendResult)
    // Both processes sent: the barrier held jobs in each.
    expect(new Set(results.map((r) => r.pid))).toEqual(new Set(processes.map((p) => p.pid)))

    const sent = results.flatMap((r) => r.sent)
    const total = JOBS_PER_PROCESS * processes.length * SENDS_PER_JOB
    expect(sent).toHaveLength(total)
    expect(sent.every((s) => s.status === 'success')).toBe(true)
    expect(sent.map((s) => s.nonce).sort((a, b) => a - b)).toEqual(range(before, before + total - 1))
    expect(await transactionCount(anvil.rpcUrl, DEPLOYER)).toBe(before + total)
    // What was mined is what was recorded: each hash from the deployer under its recorded nonce, none replaced.
    const client = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) })
    for (const { hash, nonce } of sent) {
      const mined = await client.getTransaction({ hash })
      expect({ from: mined.from.toLowerCase(), nonce: mined.nonce }).toEqual({
        from: DEPLOYER.toLowerCase(),
        nonce,
      })
    }
    expect(output()).not.toMatch(/nonce too low|replacement transaction|already used/i)
  }, 200_000)
})
