import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  ANVIL_ADDRESSES,
  ANVIL_KEYS,
  startTestChain,
  type TestChain,
  transactionCount,
} from '../../../test/helpers/anvil'
import { connectResumed, notificationsOf, processStorage, tempDirs } from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcpProxy'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import type { TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { ABANDONED } from './startJobWorkers'

/**
 * A deployment pg-boss fails for good by itself, with no retries left (JOB_RETRY_LIMIT=0) and without
 * Herald's handler ever recording why: its attempt outlives JOB_TIMEOUT_SECONDS on a chain node that never
 * answers (a frozen TCP proxy in front of anvil), or its worker is killed during it. Only the dead-letter
 * queue's worker can then tell the owner: the job ends failed with the ABANDONED reason, visibly (job_status
 * live on the socket, one token_deployment_failed notification, GET /api/jobs/:id), exactly once, and
 * nothing is deployed. CHAIN_RPC_TIMEOUT_SECONDS is far longer than the test, so the handler's own failure
 * path (runAttempt's final attempt) cannot be what fails the job. Real processes; PGlite by default,
 * PostgreSQL with HERALD_TEST_DATABASE_URL.
 */

const RPC_TIMEOUT_SECONDS = 120
/**
 * Expiry, a supervise pass and the dead-letter worker's poll take a few seconds; generous, yet below the
 * 30 s a dead-letter copy waited when only pg-boss's notify backstop poll could find it.
 */
const FAILED_WITHIN_MS = 20_000

let anvil: TestChain
let proxy: TcpProxy
const dirs = tempDirs('herald-dead-')
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  anvil = await startTestChain()
  const target = new URL(anvil.rpcUrl)
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) })
}, 30_000)

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  await proxy?.stop()
  await anvil?.stop()
  dirs.cleanup()
}, 30_000)

const storage = () => processStorage(dirs, cleanups)

async function spawn(env: Record<string, string>, jobTimeoutSeconds: number, label: string) {
  const herald = await spawnHerald(
    {
      ...env,
      CHAIN_RPC_URL: proxy.url(anvil.rpcUrl),
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
      CHAIN_RPC_TIMEOUT_SECONDS: String(RPC_TIMEOUT_SECONDS),
      JOB_RETRY_LIMIT: '0',
      JOB_TIMEOUT_SECONDS: String(jobTimeoutSeconds),
    },
    { label },
  )
  // Pushed last so it runs first: a process stops before its database is dropped.
  cleanups.push(() => herald.kill('SIGKILL'))
  return herald
}

async function deploy(herald: HeraldProcess, session: Session, symbol: string): Promise<string> {
  const response = await fetch(`${herald.url}/api/tokens`, {
    method: 'POST',
    headers: { ...bearer(session.token), 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Dead ${symbol}`, symbol, initialSupply: '1000' }),
  })
  expect(response.status).toBe(202)
  return ((await response.json()) as { jobId: string }).jobId
}

/** The deployer's nonce straight from anvil (not through the proxy, which may be frozen). */
const deployerNonce = () => transactionCount(anvil.rpcUrl, ANVIL_ADDRESSES[0])

const ofJob = (jobId: string) => (n: Notification) => (n.data as { jobId?: string } | null)?.jobId === jobId
const statusesOf = (socket: TestSocket, jobId: string) =>
  socket.messages
    .filter((m) => m.type === 'job_status' && m.jobId === jobId && !('progress' in m))
    .map((m) => m as { status: string; data: { error?: string } })

/**
 * Everything that must hold once the dead-letter worker failed the job: seen on `socket` (which saw the
 * job's whole life, live or by resume) and through the API, once.
 */
async function expectFailedOnce(herald: HeraldProcess, session: Session, socket: TestSocket, jobId: string) {
  const failed = await socket.next(
    (m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'failed',
    FAILED_WITHIN_MS,
  )
  expect((failed as { data: { error?: string } }).data.error).toBe(ABANDONED)
  // Time for a second failure to show up, were the dead-letter job (or anything else) to repeat it.
  await Bun.sleep(3000)

  const failedStatuses = statusesOf(socket, jobId).filter((m) => m.status === 'failed')
  expect(failedStatuses).toHaveLength(1)
  const notices = notificationsOf(socket).filter(ofJob(jobId))
  expect(notices.map((n) => n.type)).toEqual(['token_deployment_started', 'token_deployment_failed'])
  expect(notices[1]!.message).toBe(ABANDONED)
  expect(notices[1]!.data).toEqual({ jobId, reason: ABANDONED })

  // The stored history has it once too, not only this socket.
  const history = (await (
    await fetch(`${herald.url}/api/notifications?limit=100`, { headers: bearer(session.token) })
  ).json()) as { notifications: Notification[] }
  expect(
    history.notifications
      .filter(ofJob(jobId))
      .map((n) => n.type)
      .sort(),
  ).toEqual(['token_deployment_failed', 'token_deployment_started'])

  const job = await fetch(`${herald.url}/api/jobs/${jobId}`, { headers: bearer(session.token) })
  expect(job.status).toBe(200)
  expect(await job.json()).toMatchObject({ status: 'failed', error: ABANDONED, result: null })
  const list = (await (
    await fetch(`${herald.url}/api/tokens`, { headers: bearer(session.token) })
  ).json()) as { tokens: unknown[] }
  expect(list.tokens).toEqual([])
}

describe(`a deployment pg-boss fails for good by itself (${usingPostgres() ? 'PostgreSQL' : 'PGlite'})`, () => {
  test('its last attempt expires while the chain never answers: failed once, visibly, by the dead-letter worker', async () => {
    const env = await storage()
    const herald = await spawn(env, 2, 'expiry')
    try {
      // Signing in and the socket come first: nothing else may wait on the frozen node.
      const session = await signIn(herald.url)
      const socket = await connectResumed(herald.wsUrl, session.token)
      const nonceBefore = await deployerNonce()
      proxy.freeze()
      const jobId = await deploy(herald, session, 'EXPIRE')
      await expectFailedOnce(herald, session, socket, jobId)
      // Live, in order, on the socket that was there all along.
      expect(statusesOf(socket, jobId).map((m) => m.status)).toEqual(['pending', 'running', 'failed'])
      expect(await deployerNonce()).toBe(nonceBefore)
      socket.close()
    } catch (error) {
      console.error(herald.output())
      throw error
    } finally {
      proxy.restore()
    }
  }, 60_000)

  test('its worker is killed during the last attempt: the next process fails it once, visibly, and deploys nothing', async () => {
    const env = await storage()
    // Long enough that the attempt cannot expire before the kill: only the restarted process sees it end.
    const jobTimeoutSeconds = 5
    let second: HeraldProcess | null = null
    const first = await spawn(env, jobTimeoutSeconds, 'killed')
    try {
      const session = await signIn(first.url)
      const before = await connectResumed(first.wsUrl, session.token)
      const nonceBefore = await deployerNonce()
      // The attempt hangs on its first chain call, right after the started notification.
      proxy.freeze()
      const jobId = await deploy(first, session, 'KILLED')
      await before.next(
        (m) =>
          m.type === 'notification' &&
          (m as { notification: Notification }).notification.type === 'token_deployment_started',
        10_000,
      )
      expect(await first.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
      before.close()
      expect(statusesOf(before, jobId).map((m) => m.status)).toEqual(['pending', 'running'])
      // The chain is fine again: were the job retried, it would be deployed now.
      proxy.restore()

      second = await spawn(env, jobTimeoutSeconds, 'restarted')
      const socket = await connectResumed(second.wsUrl, session.token)
      await expectFailedOnce(second, session, socket, jobId)
      expect(statusesOf(socket, jobId).map((m) => m.status)).toEqual(['failed'])
      expect(await deployerNonce()).toBe(nonceBefore)
      socket.close()
    } catch (error) {
      console.error(`${first.output()}\n${second?.output() ?? ''}`)
      throw error
    } finally {
      proxy.restore()
    }
  }, 90_000)
})
