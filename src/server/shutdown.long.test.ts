import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ANVIL_KEYS, setAutomine, startTestChain, type TestChain } from '../../test/helpers/anvil'
import { processStorage, tempDirs, until, within } from '../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../test/helpers/heraldProcess'
import { usingPostgres } from '../../test/helpers/testDatabase'
import { bearer, type Session, signIn } from '../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../test/helpers/wsClient'
import type { Notification } from '../shared/protocol'

/**
 * SIGTERM drain of a real process (ROLE=all) with connected clients and a deployment in flight: the port
 * closes, every socket gets 1001, the job either finishes inside SHUTDOWN_TIMEOUT_SECONDS or is handed back
 * to pg-boss and finished by the next process, the database is closed (on PGlite: the DATA_DIR lock is
 * released, so a restart on it works) and the exit code is 0 within a bounded time. The job is held in
 * flight exactly by turning anvil's automine off: the transaction waits in the pool until the test mines.
 * On PGlite by default, on PostgreSQL with HERALD_TEST_DATABASE_URL.
 */

const SHUTDOWN_TIMEOUT_SECONDS = 3
/** What the issue asks for: exit within a bounded time (the drain budget plus the hard limit's 15 s). */
const EXIT_BOUND_MS = (SHUTDOWN_TIMEOUT_SECONDS + 15) * 1000

type NotificationMessage = { type: 'notification'; notification: Notification }

let anvil: TestChain
const dirs = tempDirs('herald-shutdown-')
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  anvil = await startTestChain()
}, 30_000)

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  await setAutomine(anvil.rpcUrl, true).catch(() => {})
  await anvil?.stop()
  dirs.cleanup()
}, 30_000)

const storage = () => processStorage(dirs, cleanups)

async function spawn(env: Record<string, string>, label: string): Promise<HeraldProcess> {
  const herald = await spawnHerald(
    {
      CHAIN_RPC_URL: anvil.rpcUrl,
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
      SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
      JOB_TIMEOUT_SECONDS: '20',
      ...env,
    },
    { label },
  )
  cleanups.push(() => herald.kill('SIGKILL'))
  return herald
}

const ofJob = (jobId: string, type: string) => (m: { type: string; [k: string]: unknown }) =>
  m.type === 'notification' &&
  (m as NotificationMessage).notification.type === type &&
  ((m as NotificationMessage).notification.data as { jobId?: string } | null)?.jobId === jobId

async function requestDeployment(url: string, session: Session, symbol: string): Promise<string> {
  const response = await fetch(`${url}/api/tokens`, {
    method: 'POST',
    headers: { ...bearer(session.token), 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Drain ${symbol}`, symbol, initialSupply: '1000' }),
  })
  expect(response.status).toBe(202)
  return ((await response.json()) as { jobId: string }).jobId
}

/** Connected clients and a deployment waiting for its receipt (automine off) on a fresh process. */
async function inFlight(env: Record<string, string>, symbol: string) {
  const herald = await spawn(env, `drain-${symbol}`)
  const session = await signIn(herald.url)
  const sockets = [
    await connectAuthenticated(herald.wsUrl, session.token),
    await connectAuthenticated(herald.wsUrl, session.token),
  ]
  await setAutomine(anvil.rpcUrl, false)
  const jobId = await requestDeployment(herald.url, session, symbol)
  await sockets[0]!.next(ofJob(jobId, 'token_deployment_pending'), 20_000)
  return { herald, session, sockets, jobId }
}

/** The port no longer takes HTTP requests or upgrades. */
async function refuses(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) })
    return false
  } catch {
    return true
  }
}

async function expectClosedGoingAway(sockets: TestSocket[]) {
  for (const socket of sockets) expect((await within(socket.closed, 5000, 'the close')).code).toBe(1001)
}

/** After a restart on the same data: the job is completed and the owner resumes to its success. */
async function expectCompletedAfterRestart(env: Record<string, string>, session: Session, jobId: string) {
  const again = await spawn(env, 'drain-restarted')
  const socket = await connectAuthenticated(again.wsUrl, session.token)
  socket.send({ type: 'resume', since: 0 })
  await socket.next(ofJob(jobId, 'token_deployment_success'), 45_000)
  const job = await until(
    'the job to be completed',
    async () => {
      const body = (await (
        await fetch(`${again.url}/api/jobs/${jobId}`, { headers: bearer(session.token) })
      ).json()) as { status: string }
      return body.status === 'completed' ? body : undefined
    },
    45_000,
    200,
  )
  expect(job.status).toBe('completed')
  const list = (await (
    await fetch(`${again.url}/api/tokens`, { headers: bearer(session.token) })
  ).json()) as {
    tokens: unknown[]
  }
  expect(list.tokens).toHaveLength(1)
  // Each step was announced once, however the job was handed over.
  const history = (await (
    await fetch(`${again.url}/api/notifications?limit=100`, { headers: bearer(session.token) })
  ).json()) as { notifications: Notification[] }
  expect(history.notifications.map((n) => n.type).sort()).toEqual([
    'token_deployment_pending',
    'token_deployment_started',
    'token_deployment_success',
  ])
  socket.close()
  expect(await within(again.kill('SIGTERM'), EXIT_BOUND_MS, 'the restarted process to exit')).toEqual({
    code: 0,
    signal: null,
  })
}

describe(`SIGTERM drain (${usingPostgres() ? 'PostgreSQL' : 'PGlite'})`, () => {
  test('a job that finishes within SHUTDOWN_TIMEOUT_SECONDS: port closed, sockets 1001, job completed, exit 0', async () => {
    const env = await storage()
    const { herald, session, sockets, jobId } = await inFlight(env, 'DRAINA')
    try {
      herald.proc.kill('SIGTERM')
      await expectClosedGoingAway(sockets)
      await until('the port to refuse', async () => ((await refuses(herald.url)) ? true : undefined), 5000)
      // Still draining: the job waits for its receipt. Mining it lets the job finish inside the budget.
      await setAutomine(anvil.rpcUrl, true)
      expect(await within(herald.exited, EXIT_BOUND_MS, 'the exit')).toEqual({ code: 0, signal: null })
      expect(herald.output()).toContain('SIGTERM: stopped')
      await expectCompletedAfterRestart(env, session, jobId)
    } catch (error) {
      console.error(herald.output())
      throw error
    } finally {
      await setAutomine(anvil.rpcUrl, true)
    }
  }, 120_000)

  test('a job still running at SHUTDOWN_TIMEOUT_SECONDS is handed back: exit 0, and the next process finishes it once', async () => {
    const env = await storage()
    const { herald, session, sockets, jobId } = await inFlight(env, 'DRAINB')
    try {
      herald.proc.kill('SIGTERM')
      await expectClosedGoingAway(sockets)
      // The receipt never comes while it drains: the budget runs out and the job goes back to pg-boss.
      expect(await within(herald.exited, EXIT_BOUND_MS, 'the exit')).toEqual({ code: 0, signal: null })
      expect(herald.output()).toContain('SIGTERM: stopped')
      await setAutomine(anvil.rpcUrl, true)
      await expectCompletedAfterRestart(env, session, jobId)
    } catch (error) {
      console.error(herald.output())
      throw error
    } finally {
      await setAutomine(anvil.rpcUrl, true)
    }
  }, 120_000)
})
