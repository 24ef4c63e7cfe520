import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ANVIL_KEYS, startTestChain, type TestChain } from '../../../test/helpers/anvil'
import { connectResumed, tempDirs, until } from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcpProxy'
import { createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import type { TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'

/**
 * A chain node that accepts connections and never answers (a TCP proxy in front of anvil, frozen) during a
 * deployment, in a real process: every RPC call fails after CHAIN_RPC_TIMEOUT_SECONDS (three tries), the
 * attempt fails and pg-boss retries it. When the node answers again before the retries run out, the job
 * completes with one contract; when it never does, the job fails visibly (job_status failed, the failure
 * notification, GET /api/jobs). Never a job that hangs. PGlite by default, PostgreSQL with
 * HERALD_TEST_DATABASE_URL.
 */

type NotificationMessage = { type: 'notification'; notification: Notification }

describe(`a chain RPC that stops answering during a deployment (${usingPostgres() ? 'PostgreSQL' : 'PGlite'})`, () => {
  let anvil: TestChain
  let proxy: TcpProxy
  let herald: HeraldProcess
  let session: Session
  let socket: TestSocket
  let dropDatabase: (() => Promise<void>) | null = null
  const dirs = tempDirs('herald-rpc-')

  beforeAll(async () => {
    anvil = await startTestChain()
    const target = new URL(anvil.rpcUrl)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) })
    const env: Record<string, string> = { DATA_DIR: dirs.make() }
    if (usingPostgres()) {
      const database = await createTestDatabaseUrl()
      dropDatabase = database.drop
      env.DATABASE_URL = database.url
    }
    herald = await spawnHerald(
      {
        ...env,
        CHAIN_RPC_URL: proxy.url(anvil.rpcUrl),
        DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
        CHAIN_RPC_TIMEOUT_SECONDS: '1',
        JOB_RETRY_LIMIT: '1',
        JOB_TIMEOUT_SECONDS: '30',
      },
      { label: 'rpc' },
    )
    session = await signIn(herald.url)
    socket = await connectResumed(herald.wsUrl, session.token)
  }, 120_000)

  afterAll(async () => {
    socket?.close()
    await herald?.kill('SIGKILL')
    await proxy?.stop()
    await anvil?.stop()
    await dropDatabase?.()
    dirs.cleanup()
  }, 30_000)

  const deploy = async (symbol: string) => {
    const response = await fetch(`${herald.url}/api/tokens`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Rpc ${symbol}`, symbol, initialSupply: '1000' }),
    })
    expect(response.status).toBe(202)
    return ((await response.json()) as { jobId: string }).jobId
  }
  const noticesOf = (jobId: string) =>
    socket.messages
      .filter(
        (m) =>
          m.type === 'notification' &&
          ((m as NotificationMessage).notification.data as { jobId?: string } | null)?.jobId === jobId,
      )
      .map((m) => (m as NotificationMessage).notification.type)
  const jobOf = async (jobId: string) =>
    (await (await fetch(`${herald.url}/api/jobs/${jobId}`, { headers: bearer(session.token) })).json()) as {
      status: string
      error: string | null
    }

  test('the node answers again before the retries run out: the job completes, with one contract', async () => {
    try {
      proxy.freeze()
      const jobId = await deploy('RPCOK')
      // The first attempt times out on its first chain call and is handed back for a retry.
      await until(
        'the first attempt to fail',
        () => (herald.output().includes(`job ${jobId} attempt 1`) ? true : undefined),
        30_000,
        100,
      )
      proxy.restore()
      await socket.next(
        (m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'completed',
        30_000,
      )
      expect(noticesOf(jobId)).toEqual([
        'token_deployment_started',
        'token_deployment_pending',
        'token_deployment_success',
      ])
      expect((await jobOf(jobId)).status).toBe('completed')
    } catch (error) {
      console.error(herald.output())
      throw error
    } finally {
      proxy.restore()
    }
  }, 90_000)

  test('the node never answers again: the job fails visibly once its retries are spent', async () => {
    try {
      proxy.freeze()
      const jobId = await deploy('RPCNO')
      const failed = await socket.next(
        (m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'failed',
        60_000,
      )
      expect((failed as { data?: { error?: string } }).data?.error).toBeString()
      expect(noticesOf(jobId)).toEqual(['token_deployment_started', 'token_deployment_failed'])
      const job = await jobOf(jobId)
      expect(job.status).toBe('failed')
      expect(job.error).toBeString()
    } catch (error) {
      console.error(herald.output())
      throw error
    } finally {
      proxy.restore()
    }
  }, 90_000)
})
