import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseUnits } from 'viem'
import { balancesOf, DEPLOYER, ownedToken, recipients } from '../../../test/helpers/airdrop'
import { ANVIL_KEYS, setAutomine, startTestChain, transactionCount } from '../../../test/helpers/anvil'
import { processStorage, tempDirs, until } from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import type { Job, Notification } from '../../shared/protocol'

/**
 * kill -9 of the process running a job, then a new process on the same data (PGlite DATA_DIR, or PostgreSQL
 * with HERALD_TEST_DATABASE_URL): what a job did for good (ctx.step, ctx.notify, ctx.sendTransaction) is not
 * done again, and what it had not done yet is done once.
 */

const dirs = tempDirs('herald-jobs-kill-')
const cleanups: (() => Promise<unknown>)[] = []
const spawned: HeraldProcess[] = []
afterAll(async () => {
  await Promise.all(spawned.map((p) => p.kill('SIGKILL')))
  for (const cleanup of cleanups) await cleanup()
  dirs.cleanup()
}, 30_000)

async function spawn(env: Record<string, string>, label: string) {
  const herald = await spawnHerald(
    { JOB_RETRY_LIMIT: '5', JOB_TIMEOUT_SECONDS: '6', AUTH_RATE_PER_MINUTE: '100000', ...env },
    { label, entry: 'test/fixtures/jobsMain.ts' },
  )
  spawned.push(herald)
  return herald
}

const getJson = async <T>(url: string, session: Session, path: string): Promise<T> =>
  (await (await fetch(`${url}${path}`, { headers: bearer(session.token) })).json()) as T
const jobOf = (url: string, session: Session, id: string) => getJson<Job>(url, session, `/api/jobs/${id}`)
const notificationsOfType = async (url: string, session: Session, type: string) =>
  (
    await getJson<{ notifications: Notification[] }>(url, session, '/api/notifications?limit=100')
  ).notifications.filter((n) => n.type === type)

describe('ctx.step and ctx.notify across kill -9', () => {
  test('a step and a notification done before the crash are not repeated; the step after runs once', async () => {
    const storage = await processStorage(dirs, cleanups)
    const work = dirs.make()
    const log = join(work, 'steps.log')
    const release = join(work, 'release')
    const first = await spawn(storage, 'first')
    const session = await signIn(first.url)
    const response = await fetch(`${first.url}/api/jobs`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'steps', input: { log, release } }),
    })
    expect(response.status).toBe(202)
    const { job } = (await response.json()) as { job: Job }
    // The job waits for `release` after its step and its notification: both are committed.
    await until(
      'the job to wait',
      async () => {
        const read = await jobOf(first.url, session, job.id)
        return read.progress?.step === 'waiting' ? read : undefined
      },
      20_000,
    )
    expect(await first.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
    writeFileSync(release, '')

    const second = await spawn(storage, 'second')
    const done = await until(
      'the job to complete',
      async () => {
        const read = await jobOf(second.url, session, job.id)
        return read.status === 'completed' ? read : undefined
      },
      60_000,
      200,
    )
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['first', 'second'])
    // The first step's stored result, from the first attempt; the second ran on a retry.
    expect(done.result).toMatchObject({ first: { at: 1 } })
    expect((done.result as { second: { at: number } }).second.at).toBeGreaterThan(1)
    expect(await notificationsOfType(second.url, session, 'steps_hello')).toHaveLength(1)
    await second.kill('SIGTERM')
  }, 120_000)
})

describe('the airdrop across two kill -9', () => {
  test('50 recipients, the worker killed twice: each paid exactly its amount, the nonce up by 50, one completion', async () => {
    const anvil = await startTestChain()
    cleanups.push(() => anvil.stop())
    const storage = await processStorage(dirs, cleanups)
    const env = { ...storage, CHAIN_RPC_URL: anvil.rpcUrl, DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0]! }
    let herald = await spawn(env, 'airdrop 1')
    const session = await signIn(herald.url)
    const token = await ownedToken(herald.url, anvil.rpcUrl, session, '5000')
    const list = recipients(50)
    const nonceBefore = await transactionCount(anvil.rpcUrl, DEPLOYER)
    const response = await fetch(`${herald.url}/api/jobs`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json', 'idempotency-key': 'drop-1' },
      body: JSON.stringify({ type: 'airdrop', input: { token, recipients: list } }),
    })
    expect(response.status).toBe(202)
    const { job } = (await response.json()) as { job: Job }
    const sentAtLeast = (url: string, n: number) =>
      until(
        `${n} transfers sent`,
        async () => {
          const read = await jobOf(url, session, job.id)
          if (read.status !== 'running' && read.status !== 'pending')
            throw new Error(`job ended ${read.status} too soon`)
          return read.progress?.step === 'sending' && (read.progress.done ?? 0) >= n ? read : undefined
        },
        30_000,
        10,
      )

    // First crash: while sending.
    const atFirstCrash = await sentAtLeast(herald.url, 5)
    expect(atFirstCrash.progress!.done!).toBeLessThan(50)
    expect(await herald.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
    // Second crash: the chain holds still, so the retry sends the rest and then waits for the blocks.
    await setAutomine(anvil.rpcUrl, false)
    herald = await spawn(env, 'airdrop 2')
    await until(
      'the retry to wait for confirmations',
      async () => {
        const read = await jobOf(herald.url, session, job.id)
        return read.progress?.step === 'confirming' ||
          (read.progress?.step === 'sending' && read.progress.done === 50)
          ? read
          : undefined
      },
      60_000,
      20,
    )
    expect(await herald.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
    await setAutomine(anvil.rpcUrl, true)

    herald = await spawn(env, 'airdrop 3')
    const done = await until(
      'the airdrop to complete',
      async () => {
        const read = await jobOf(herald.url, session, job.id)
        if (read.status === 'failed' || read.status === 'cancelled')
          throw new Error(`airdrop ${read.status}: ${read.error}`)
        return read.status === 'completed' ? read : undefined
      },
      90_000,
      200,
    )
    const balances = await balancesOf(
      anvil.rpcUrl,
      token,
      list.map((r) => r.address),
    )
    expect(balances).toEqual(list.map((r) => parseUnits(r.amount, 18)))
    expect(await transactionCount(anvil.rpcUrl, DEPLOYER)).toBe(nonceBefore + 50)
    const result = done.result as { recipients: { status: string }[] }
    expect(result.recipients).toHaveLength(50)
    expect(result.recipients.every((r) => r.status === 'success')).toBe(true)
    expect(await notificationsOfType(herald.url, session, 'airdrop_completed')).toHaveLength(1)
    const completed = (
      await getJson<{ jobs: Job[] }>(herald.url, session, '/api/jobs?type=airdrop&status=completed')
    ).jobs
    expect(completed.map((j) => j.id)).toEqual([job.id])
    await herald.kill('SIGTERM')
  }, 240_000)
})
