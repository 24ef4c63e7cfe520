import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { createPublicClient, getAddress, http } from 'viem'
import { ANVIL_KEYS, startTestChain } from '../../../test/helpers/anvil'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { heraldTokenAbi } from '../chain/heraldToken'
import { jobs, tokens } from '../db/schema'
import { DEPLOY_TOKEN } from './deployToken'
import { enqueueJob } from './enqueueJob'
import { QUEUES } from './startJobBoss'

let chain: Awaited<ReturnType<typeof startTestChain>>
let server: TestServer

beforeAll(async () => {
  chain = await startTestChain()
  server = await startTestServer({
    CHAIN_RPC_URL: chain.rpcUrl,
    DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0]!,
    JOB_RETRY_LIMIT: '1',
  })
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await chain?.stop()
})

const deploy = (session: Session, body: Record<string, unknown>) =>
  fetch(`${server.url}/api/tokens`, {
    method: 'POST',
    headers: { ...bearer(session.token), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

type NotificationMessage = { type: 'notification'; notification: Notification }
const isDeployNotice = (jobId: string) => (m: { type: string; [k: string]: unknown }) =>
  m.type === 'notification' &&
  (m as NotificationMessage).notification.data !== null &&
  ((m as NotificationMessage).notification.data as { jobId?: string }).jobId === jobId

async function waitForJob(
  socket: TestSocket,
  jobId: string,
  status: 'completed' | 'failed',
  timeoutMs = 30_000,
) {
  return socket.next((m) => m.type === 'job_status' && m.jobId === jobId && m.status === status, timeoutMs)
}

describe('deployToken', () => {
  test('the full flow over HTTP and WebSocket, and the token on chain', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const response = await deploy(session, { name: 'Herald Test', symbol: 'HT1', initialSupply: '1000000' })
    expect(response.status).toBe(202)
    const { jobId } = (await response.json()) as { jobId: string }
    expect(jobId).toMatch(/^\d+$/)

    await waitForJob(socket, jobId, 'completed')
    const statuses = socket.messages
      .filter((m) => m.type === 'job_status' && m.jobId === jobId && !('progress' in m))
      .map((m) => (m as { status: string }).status)
    expect(statuses).toEqual(['pending', 'running', 'completed'])
    const notices = socket.messages
      .filter(isDeployNotice(jobId))
      .map((m) => (m as NotificationMessage).notification)
    expect(notices.map((n) => n.type)).toEqual([
      'token_deployment_started',
      'token_deployment_pending',
      'token_deployment_success',
    ])
    const txHash = (notices[1]!.data as { txHash: string }).txHash
    expect(txHash).toMatch(/^0x[0-9a-f]{64}$/)
    const address = (notices[2]!.data as { address: string }).address
    expect(address).toBe(getAddress(address))
    // The token list changes before the job reports completion.
    const updateAt = socket.messages.findIndex((m) => m.type === 'data_update')
    const completedAt = socket.messages.findIndex((m) => m.type === 'job_status' && m.status === 'completed')
    expect(updateAt).toBeGreaterThan(-1)
    expect(updateAt).toBeLessThan(completedAt)
    const update = socket.messages[updateAt]
    expect(update).toMatchObject({ entity: 'token', action: 'created', data: { address, symbol: 'HT1' } })

    const job = await (
      await fetch(`${server.url}/api/jobs/${jobId}`, { headers: bearer(session.token) })
    ).json()
    expect(job).toMatchObject({ id: jobId, type: DEPLOY_TOKEN, status: 'completed', error: null })
    expect((job as { result: { address: string } }).result.address).toBe(address)
    const list = (await (
      await fetch(`${server.url}/api/tokens`, { headers: bearer(session.token) })
    ).json()) as {
      tokens: { address: string; deploymentTx: string; ownerAddress: string }[]
    }
    expect(list.tokens).toHaveLength(1)
    expect(list.tokens[0]).toMatchObject({
      address,
      deploymentTx: txHash,
      ownerAddress: session.user.address,
    })

    const client = createPublicClient({ transport: http(chain.rpcUrl) })
    const read = (functionName: 'name' | 'symbol' | 'totalSupply' | 'decimals') =>
      client.readContract({ address: address as `0x${string}`, abi: heraldTokenAbi, functionName })
    expect(await read('name')).toBe('Herald Test')
    expect(await read('symbol')).toBe('HT1')
    expect(await read('decimals')).toBe(18)
    expect(await read('totalSupply')).toBe(1_000_000n * 10n ** 18n)
    const balance = await client.readContract({
      address: address as `0x${string}`,
      abi: heraldTokenAbi,
      functionName: 'balanceOf',
      args: [session.user.address as `0x${string}`],
    })
    expect(balance).toBe(1_000_000n * 10n ** 18n)
    socket.close()
  })

  test('ten deployments queued at once by three users: ten contracts, each user told only of their own', async () => {
    const users = await Promise.all([signIn(server.url), signIn(server.url), signIn(server.url)])
    const sockets = await Promise.all(users.map((u) => connectAuthenticated(server.wsUrl, u.token)))
    const requests = Array.from({ length: 10 }, (_, i) => ({ user: i % 3, symbol: `MULTI${i}` }))
    const jobIds = await Promise.all(
      requests.map(async ({ user, symbol }) => {
        const response = await deploy(users[user]!, { name: `Multi ${symbol}`, symbol, initialSupply: '42' })
        expect(response.status).toBe(202)
        return ((await response.json()) as { jobId: string }).jobId
      }),
    )
    await Promise.all(
      jobIds.map((jobId, i) => waitForJob(sockets[requests[i]!.user]!, jobId, 'completed', 60_000)),
    )
    const addresses = new Set<string>()
    for (const [u, socket] of sockets.entries()) {
      const own = new Set(jobIds.filter((_, i) => requests[i]!.user === u))
      const seen = socket.messages
        .filter((m) => m.type === 'job_status')
        .map((m) => (m as { jobId: string }).jobId)
      expect(new Set(seen)).toEqual(own)
      const successes = socket.messages
        .map((m) => (m.type === 'notification' ? (m as NotificationMessage).notification : null))
        .filter((n) => n?.type === 'token_deployment_success')
      expect(successes).toHaveLength(own.size)
      for (const n of successes) addresses.add((n!.data as { address: string }).address)
    }
    expect(addresses.size).toBe(10)
    const rows = await server.database.db.select().from(tokens)
    expect(new Set(rows.map((r) => r.address)).size).toBe(rows.length)
    for (const socket of sockets) socket.close()
  })

  test('a deployment that would revert fails visibly and saves nothing', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const before = (await server.database.db.select().from(tokens)).length
    // A supply of 0 passes no API check (the route refuses it), so it is queued directly: the contract reverts.
    const { jobId } = await enqueueJob(
      server.database.db,
      server.herald.testHooks.boss!,
      server.herald.testHooks.bus,
      {
        userId: session.user.id,
        queue: QUEUES.deployToken,
        type: DEPLOY_TOKEN,
        data: { name: 'Broken', symbol: 'BRK', initialSupply: '0', ownerAddress: session.user.address },
      },
    )
    await waitForJob(socket, jobId, 'failed')
    const failed = socket.messages
      .filter(isDeployNotice(jobId))
      .map((m) => (m as NotificationMessage).notification)
      .find((n) => n.type === 'token_deployment_failed')
    expect(failed).toBeDefined()
    expect((failed!.data as { reason: string }).reason).toMatch(/revert/i)
    const [row] = await server.database.db
      .select()
      .from(jobs)
      .where(eq(jobs.id, Number(jobId)))
    expect(row!.status).toBe('failed')
    expect((await server.database.db.select().from(tokens)).length).toBe(before)
    socket.close()
  })

  test('bad input on /api/tokens and /api/jobs/:id', async () => {
    const session = await signIn(server.url)
    const other = await signIn(server.url)
    const cases: [Record<string, unknown>, string][] = [
      [{ name: '', symbol: 'A', initialSupply: '1' }, 'name'],
      [{ name: 'x'.repeat(65), symbol: 'A', initialSupply: '1' }, 'name'],
      [{ name: 'ok', symbol: 'abc', initialSupply: '1' }, 'symbol'],
      [{ name: 'ok', symbol: 'ABCDEFGHIJKL', initialSupply: '1' }, 'symbol'],
      [{ name: 'ok', symbol: '', initialSupply: '1' }, 'symbol'],
      [{ name: 'ok', symbol: 'A-B', initialSupply: '1' }, 'symbol'],
      [{ name: 'ok', symbol: 'A', initialSupply: '0' }, 'initialSupply'],
      [{ name: 'ok', symbol: 'A', initialSupply: '-5' }, 'initialSupply'],
      [{ name: 'ok', symbol: 'A', initialSupply: '1.5' }, 'initialSupply'],
      [{ name: 'ok', symbol: 'A', initialSupply: 100 }, 'initialSupply'],
      [
        { name: 'ok', symbol: 'A', initialSupply: (2n ** 256n / 10n ** 18n + 1n).toString() },
        'initialSupply',
      ],
      [{ name: 'ok', symbol: 'A' }, 'initialSupply'],
    ]
    for (const [body, field] of cases) {
      const response = await deploy(session, body)
      expect(response.status).toBe(422)
      const error = ((await response.json()) as { error: { code: string; message: string } }).error
      expect(error.code).toBe('INVALID_INPUT')
      expect(error.message).toContain(field)
    }
    const maxOk = (2n ** 256n / 10n ** 18n).toString()
    expect((await deploy(session, { name: 'Max', symbol: 'MAX', initialSupply: maxOk })).status).toBe(202)
    const noAuth = await fetch(`${server.url}/api/tokens`, { method: 'POST', body: '{}' })
    expect(noAuth.status).toBe(401)

    const { jobId } = (await (
      await deploy(session, { name: 'Mine', symbol: 'MINE', initialSupply: '1' })
    ).json()) as {
      jobId: string
    }
    const theirs = await fetch(`${server.url}/api/jobs/${jobId}`, { headers: bearer(other.token) })
    expect(theirs.status).toBe(404)
    const missing = await fetch(`${server.url}/api/jobs/99999999`, { headers: bearer(other.token) })
    expect(missing.status).toBe(404)
    expect(await theirs.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } })
    expect((await fetch(`${server.url}/api/jobs/abc`, { headers: bearer(session.token) })).status).toBe(422)
  })
})
