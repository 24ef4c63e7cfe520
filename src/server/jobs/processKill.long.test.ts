import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  ANVIL_ADDRESSES,
  ANVIL_KEYS,
  mine,
  setAutomine,
  startTestChain,
  type TestChain,
  transactionCount,
} from '../../../test/helpers/anvil'
import {
  connectResumed,
  DRILL_ADMIN_KEY,
  expectExactlyOnce,
  follow,
  latestSeq,
  type PublishResult,
  paced,
  tempDirs,
  tryPublish,
  within,
} from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, signIn } from '../../../test/helpers/wallet'
import type { Notification } from '../../shared/protocol'

/**
 * kill -9 of one process of a split deployment (ROLE=server instances and a ROLE=worker on one PostgreSQL),
 * as real OS processes, while the others stay up:
 * - a worker killed while its deployment waits for the receipt: a restarted worker takes the job over once
 *   pg-boss expires it, and it ends completed, visibly (job_status live to the client, GET /api/jobs), with
 *   one transaction and each notification once;
 * - a server killed while notifications are published through another instance: its clients reconnect to
 *   the restarted instance, resume, and get every accepted notification exactly once, in order.
 * PostgreSQL only: ROLE=server and ROLE=worker need a shared database.
 */

const JOB_TIMEOUT_SECONDS = 8

describe.skipIf(!usingPostgres())('kill -9 in a split deployment (needs HERALD_TEST_DATABASE_URL)', () => {
  let anvil: TestChain
  let database: Awaited<ReturnType<typeof createTestDatabaseUrl>> | undefined
  let server: HeraldProcess | undefined
  const spawned: HeraldProcess[] = []
  const dirs = tempDirs('herald-kill-')
  const closers: (() => void)[] = []

  const spawn = async (role: 'server' | 'worker', label: string) => {
    const herald = await spawnHerald(
      {
        ROLE: role,
        DATABASE_URL: database!.url,
        DATA_DIR: dirs.make(),
        CHAIN_RPC_URL: anvil.rpcUrl,
        DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
        HERALD_ADMIN_KEY: DRILL_ADMIN_KEY,
        JOB_TIMEOUT_SECONDS: String(JOB_TIMEOUT_SECONDS),
        JOB_RETRY_LIMIT: '3',
        ADMIN_RATE_PER_SECOND: '100000',
        AUTH_RATE_PER_MINUTE: '100000',
        WS_CONNECTIONS_PER_SECOND_PER_IP: '1000',
      },
      { label },
    )
    spawned.push(herald)
    return herald
  }
  const output = () => spawned.map((p) => p.output()).join('\n')

  beforeAll(async () => {
    anvil = await startTestChain()
    database = await createTestDatabaseUrl()
    server = await spawn('server', 'server A')
  }, 60_000)

  afterAll(async () => {
    for (const close of closers) close()
    await Promise.all(spawned.map((p) => p.kill('SIGKILL')))
    await database?.drop()
    await setAutomine(anvil.rpcUrl, true).catch(() => {})
    await anvil?.stop()
    dirs.cleanup()
  }, 30_000)

  test('a worker killed while its deployment waits for the receipt: a new worker finishes it, once, visibly', async () => {
    try {
      const nonceOf = () => transactionCount(anvil.rpcUrl, ANVIL_ADDRESSES[0])
      const nonceBefore = await nonceOf()
      const worker = await spawn('worker', 'worker 1')
      const session = await signIn(server!.url)
      // The client stays on the server the whole time: everything it gets is live, across the crash.
      const socket = await connectResumed(server!.wsUrl, session.token)
      closers.push(() => socket.close())
      await setAutomine(anvil.rpcUrl, false)
      const response = await fetch(`${server!.url}/api/tokens`, {
        method: 'POST',
        headers: { ...bearer(session.token), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Killed Worker', symbol: 'KILLW', initialSupply: '1000' }),
      })
      expect(response.status).toBe(202)
      const { jobId } = (await response.json()) as { jobId: string }
      await socket.next(
        (m) =>
          m.type === 'notification' &&
          (m as { notification: Notification }).notification.type === 'token_deployment_pending',
        20_000,
      )

      expect(await worker.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
      await mine(anvil.rpcUrl)
      await setAutomine(anvil.rpcUrl, true)
      await spawn('worker', 'worker 2')
      // Expiry (JOB_TIMEOUT_SECONDS), a supervise pass, the retry's backoff and pickup: bounded, generously.
      await socket.next(
        (m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'completed',
        60_000,
      )

      const statuses = socket.messages
        .filter((m) => m.type === 'job_status' && m.jobId === jobId && !('progress' in m))
        .map((m) => (m as { status: string }).status)
      expect(statuses).toEqual(['pending', 'running', 'completed'])
      const notices = socket.messages
        .filter((m) => m.type === 'notification')
        .map((m) => (m as { notification: Notification }).notification)
      expect(notices.map((n) => n.type)).toEqual([
        'token_deployment_started',
        'token_deployment_pending',
        'token_deployment_success',
      ])
      expect(notices.map((n) => n.seq)).toEqual([1, 2, 3])
      const job = (await (
        await fetch(`${server!.url}/api/jobs/${jobId}`, { headers: bearer(session.token) })
      ).json()) as { status: string; error: unknown }
      expect(job).toMatchObject({ status: 'completed', error: null })
      const { tokens } = (await (
        await fetch(`${server!.url}/api/tokens`, { headers: bearer(session.token) })
      ).json()) as { tokens: unknown[] }
      expect(tokens).toHaveLength(1)
      expect(await nonceOf()).toBe(nonceBefore + 1)
      socket.close()
    } catch (error) {
      console.error(output())
      throw error
    } finally {
      await setAutomine(anvil.rpcUrl, true).catch(() => {})
    }
  }, 120_000)

  test('a server killed while notifications are published through another: its clients resume on its restart and lose nothing', async () => {
    try {
      let b: HeraldProcess | null = await spawn('server', 'server B')
      const users = [await signIn(server!.url), await signIn(server!.url), await signIn(server!.url)]
      // Where a client reconnects: B while it lives, then its restarted self (a balancer would do the same).
      let restarted: Promise<HeraldProcess> | null = null
      const nextUrl = async () => {
        if (b) return b.wsUrl
        return (await restarted!).wsUrl
      }
      const followers = await Promise.all(
        users.map(async (user) => follow(user, await connectResumed(b!.wsUrl, user.token), nextUrl)),
      )
      for (const follower of followers) closers.push(() => follower.close())
      const results: PublishResult[] = []
      await paced(30, 30, async (i) => {
        if (i === 10) {
          const dying = b!
          b = null
          dying.proc.kill('SIGKILL')
          restarted = dying.exited.then(() => spawn('server', 'server B restarted'))
        }
        results.push(
          ...(await Promise.all(users.map((u) => tryPublish(server!.url, u.user.id, `kill ${i}`)))),
        )
      })
      // Published through A, which never went down: every one was accepted.
      expect(results.filter((r) => !r.ok)).toEqual([])
      await within(restarted!, 30_000, 'the restart of B')
      for (const [u, follower] of followers.entries()) {
        const latest = await latestSeq(server!.url, users[u]!)
        expect(latest).toBe(30)
        await expectExactlyOnce(`user ${u}`, follower.seqs, latest, 20_000)
        // It did move: a second socket, on the restarted instance.
        expect(follower.sockets.length).toBeGreaterThanOrEqual(2)
      }
      for (const follower of followers) follower.close()
    } catch (error) {
      console.error(output())
      throw error
    }
  }, 90_000)
})
