import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getAddress } from 'viem'
import { ANVIL_ADDRESSES, ANVIL_KEYS, startTestChain, type TestChain } from '../../test/helpers/anvil'
import { type HeraldProcess, spawnHerald } from '../../test/helpers/heraldProcess'
import { createTestDatabaseUrl, usingPostgres } from '../../test/helpers/testDatabase'
import { bearer, signIn } from '../../test/helpers/wallet'
import { connectAuthenticated, connectSocket } from '../../test/helpers/wsClient'
import type { Notification } from '../shared/protocol'

/**
 * ROLE=server and ROLE=worker as separate OS processes on one PostgreSQL database and one chain: the
 * server takes requests and holds the sockets, the worker runs the jobs, and the PostgreSQL bus carries
 * the worker's job_status and notifications to the server's sockets. Only with HERALD_TEST_DATABASE_URL
 * (the embedded database serves one process).
 */

let anvil: TestChain | undefined
let database: Awaited<ReturnType<typeof createTestDatabaseUrl>> | undefined
let server: HeraldProcess | undefined
let worker: HeraldProcess | undefined
const dataDirs: string[] = []

const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-roles-'))
  dataDirs.push(dir)
  return dir
}

const diagnostics = () => `${server?.output() ?? ''}\n${worker?.output() ?? ''}`

describe.skipIf(!usingPostgres())('ROLE=server and ROLE=worker as separate processes', () => {
  beforeAll(async () => {
    anvil = await startTestChain()
    database = await createTestDatabaseUrl()
    const shared = { DATABASE_URL: database.url, CHAIN_RPC_URL: anvil.rpcUrl }
    // Started together: the two race for the migrations and pg-boss's schema, as a deployment would.
    const started = await Promise.allSettled([
      // The server never sends transactions: it has no deployer key.
      spawnHerald({ ...shared, ROLE: 'server', DATA_DIR: dataDir() }, { label: 'server' }),
      spawnHerald(
        { ...shared, ROLE: 'worker', DATA_DIR: dataDir(), DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0] },
        { label: 'worker' },
      ),
    ])
    if (started[0].status === 'fulfilled') server = started[0].value
    if (started[1].status === 'fulfilled') worker = started[1].value
    for (const result of started) if (result.status === 'rejected') throw result.reason
  }, 60_000)

  afterAll(async () => {
    await server?.kill('SIGKILL')
    await worker?.kill('SIGKILL')
    await database?.drop()
    await anvil?.stop()
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true })
  }, 30_000)

  test('each process reports its role on /health', async () => {
    const serverHealth = await fetch(`${server!.url}/health`)
    expect(serverHealth.status).toBe(200)
    expect(await serverHealth.json()).toEqual({ status: 'ok', db: 'ok', chain: 'ok', role: 'server' })
    const workerHealth = await fetch(`${worker!.url}/health`)
    expect(workerHealth.status).toBe(200)
    expect(await workerHealth.json()).toEqual({ status: 'ok', db: 'ok', chain: 'ok', role: 'worker' })
    expect((await fetch(`${worker!.url}/metrics`)).status).toBe(200)
  })

  test('the worker serves no API and no WebSocket: 404 with the contract body', async () => {
    const session = await signIn(server!.url)
    const requests: [string, string][] = [
      ['POST', '/api/auth/nonce'],
      ['POST', '/api/auth/verify'],
      ['GET', '/api/me'],
      ['GET', '/api/notifications'],
      ['GET', '/api/notifications/unread-count'],
      ['POST', '/api/tokens'],
      ['GET', '/api/tokens'],
      ['GET', '/api/jobs/1'],
      ['POST', '/api/admin/notifications'],
      ['GET', '/api/config'],
      ['GET', '/openapi'],
      ['GET', '/openapi/json'],
      ['GET', '/'],
      ['GET', '/ws'],
    ]
    for (const [method, path] of requests) {
      const response = await fetch(`${worker!.url}${path}`, {
        method,
        headers: { ...bearer(session.token), 'content-type': 'application/json' },
        body: method === 'POST' ? '{}' : undefined,
      })
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 404 })
      expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } })
    }
    // A WebSocket upgrade is refused as well.
    const socket = connectSocket(worker!.wsUrl)
    expect(await socket.opened.then(() => 'opened').catch(() => 'refused')).toBe('refused')
    socket.close()
  })

  test('a deployment requested on the server runs on the worker; every update reaches the server socket', async () => {
    try {
      const session = await signIn(server!.url)
      const socket = await connectAuthenticated(server!.wsUrl, session.token)
      const response = await fetch(`${server!.url}/api/tokens`, {
        method: 'POST',
        headers: { ...bearer(session.token), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Roles Token', symbol: 'ROLE', initialSupply: '5000' }),
      })
      expect(response.status).toBe(202)
      const { jobId } = (await response.json()) as { jobId: string }
      await socket.next(
        (m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'completed',
        30_000,
      )

      // Progress updates (§5) are job_status too; the statuses are the ones without.
      const ofJob = socket.messages.filter(
        (m) => (m as { jobId?: string }).jobId === jobId && !('progress' in m),
      )
      expect(ofJob.map((m) => (m as { status?: string }).status)).toEqual(['pending', 'running', 'completed'])
      const notices = socket.messages
        .filter((m) => m.type === 'notification')
        .map((m) => (m as { notification: Notification }).notification)
        .filter((n) => (n.data as { jobId?: string } | null)?.jobId === jobId)
      expect(notices.map((n) => n.type)).toEqual([
        'token_deployment_started',
        'token_deployment_pending',
        'token_deployment_success',
      ])
      expect(notices.map((n) => n.seq)).toEqual([1, 2, 3])
      const success = notices[2]!.data as { txHash: `0x${string}`; address: string; tokenId: string }
      const update = socket.messages.findIndex((m) => m.type === 'data_update')
      const completed = socket.messages.findIndex((m) => m.type === 'job_status' && m.status === 'completed')
      expect(update).toBeGreaterThan(-1)
      expect(update).toBeLessThan(completed)
      expect(socket.messages[completed]).toMatchObject({
        data: { type: 'deploy_token', result: { txHash: success.txHash, address: success.address } },
      })

      // The worker's key sent it: the server has none.
      const tx = await fetch(anvil!.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'eth_getTransactionByHash',
          params: [success.txHash],
        }),
      })
      const { result } = (await tx.json()) as { result: { from: string } }
      expect(getAddress(result.from)).toBe(ANVIL_ADDRESSES[0])

      const job = await (
        await fetch(`${server!.url}/api/jobs/${jobId}`, { headers: bearer(session.token) })
      ).json()
      expect(job).toMatchObject({ id: jobId, status: 'completed', error: null })
      const list = (await (
        await fetch(`${server!.url}/api/tokens`, { headers: bearer(session.token) })
      ).json()) as { tokens: { address: string; symbol: string }[] }
      expect(list.tokens).toEqual([expect.objectContaining({ address: success.address, symbol: 'ROLE' })])
      socket.close()
    } catch (error) {
      console.error(diagnostics())
      throw error
    }
  }, 60_000)

  test('many deployments at once: each job_status sequence in order, one contract each', async () => {
    try {
      const session = await signIn(server!.url)
      const socket = await connectAuthenticated(server!.wsUrl, session.token)
      const jobIds = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const response = await fetch(`${server!.url}/api/tokens`, {
            method: 'POST',
            headers: { ...bearer(session.token), 'content-type': 'application/json' },
            body: JSON.stringify({ name: `Many ${i}`, symbol: `MANY${i}`, initialSupply: '1' }),
          })
          expect(response.status).toBe(202)
          return ((await response.json()) as { jobId: string }).jobId
        }),
      )
      // A new user: every job_status on this socket belongs to these jobs. Progress updates are job_status
      // too: wait for each job's completion, in whatever order they come.
      for (let i = 0; i < jobIds.length; i++)
        await socket.next(
          (m) => m.type === 'job_status' && jobIds.includes(m.jobId as string) && m.status === 'completed',
          45_000,
        )
      for (const jobId of jobIds) {
        // "pending" is published by the server, "running" and "completed" by the worker: the worker's
        // must never overtake the server's.
        const statuses = socket.messages
          .filter((m) => m.type === 'job_status' && m.jobId === jobId && !('progress' in m))
          .map((m) => (m as { status?: string }).status)
        expect({ jobId, statuses }).toEqual({ jobId, statuses: ['pending', 'running', 'completed'] })
      }
      const list = (await (
        await fetch(`${server!.url}/api/tokens`, { headers: bearer(session.token) })
      ).json()) as { tokens: { address: string }[] }
      expect(new Set(list.tokens.map((t) => t.address)).size).toBe(jobIds.length)
      const seqs = socket.messages
        .filter((m) => m.type === 'notification')
        .map((m) => (m as { notification: Notification }).notification.seq)
      expect(seqs).toEqual(Array.from({ length: jobIds.length * 3 }, (_, i) => i + 1))
      socket.close()
    } catch (error) {
      console.error(diagnostics())
      throw error
    }
    // Twelve deployments through two processes: alone about 12 s, but on a machine busy with the other test
    // worker it has passed a minute; a job that is stuck still fails its own 45 s wait, with the diagnostics.
  }, 150_000)

  test('SIGTERM to the server closes its sockets with 1001 and it exits 0 within seconds', async () => {
    const session = await signIn(server!.url)
    const authenticated = await connectAuthenticated(server!.wsUrl, session.token)
    const anonymous = connectSocket(server!.wsUrl)
    await anonymous.opened
    await anonymous.next('connected')
    const started = performance.now()
    server!.proc.kill('SIGTERM')
    const closes = await Promise.all([authenticated.closed, anonymous.closed])
    expect(closes.map((c) => c.code)).toEqual([1001, 1001])
    expect(await server!.exited).toEqual({ code: 0, signal: null })
    expect(performance.now() - started).toBeLessThan(5_000)
  }, 20_000)

  test('SIGTERM to the worker stops it with exit 0', async () => {
    const started = performance.now()
    expect(await worker!.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    expect(performance.now() - started).toBeLessThan(5_000)
  }, 20_000)
})
