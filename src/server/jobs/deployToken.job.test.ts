import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ANVIL_KEYS, mine, setAutomine, startTestChain } from '../../../test/helpers/anvil'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'
import type { Job } from '../../shared/protocol'

// The deployment as one job among many (docs/protocol.md §5): started with POST /api/jobs, its progress steps
// signing → broadcast → confirming (done/total = confirmations), and its point of no return.

let chain: Awaited<ReturnType<typeof startTestChain>>
let server: TestServer

beforeAll(async () => {
  chain = await startTestChain()
  server = await startTestServer({
    CHAIN_RPC_URL: chain.rpcUrl,
    DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0]!,
    TX_BLOCK_CONFIRMATIONS_REQUIRED: '2',
  })
}, 60_000)
afterAll(async () => {
  await setAutomine(chain.rpcUrl, true).catch(() => {})
  await server?.stop()
  await chain?.stop()
})

const startDeploy = (session: Session, input: unknown) =>
  fetch(`${server.url}/api/jobs`, {
    method: 'POST',
    headers: { ...bearer(session.token), 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'deploy_token', input }),
  })
type Progress = { step: string; done?: number; total?: number; message?: string }
const progressOf = (socket: TestSocket, jobId: string) =>
  socket.messages
    .filter((m) => m.type === 'job_status' && m.jobId === jobId && 'progress' in m)
    .map((m) => (m as { progress: Progress }).progress)

describe('deploy_token through POST /api/jobs', () => {
  test('deploys to the caller, with progress signing → broadcast → confirming 1/2, 2/2', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const response = await startDeploy(session, { name: 'Job Token', symbol: 'JOB', initialSupply: '10' })
    expect(response.status).toBe(202)
    const { job } = (await response.json()) as { job: Job }
    expect(job).toMatchObject({ type: 'deploy_token', status: 'pending', data: { name: 'Job Token' } })
    // Automine makes the deployment's block; the second confirmation needs one more.
    await socket.next(
      (m) =>
        m.type === 'job_status' &&
        m.jobId === job.id &&
        (m as { progress?: Progress }).progress?.step === 'confirming',
      30_000,
    )
    await mine(chain.rpcUrl, 1)
    const completed = await socket.next<{ type: 'job_status'; data: { result: { address: string } } }>(
      (m) => m.type === 'job_status' && m.jobId === job.id && m.status === 'completed',
      30_000,
    )
    const progress = progressOf(socket, job.id)
    expect(progress.map((p) => p.step).filter((s, i, all) => all.indexOf(s) === i)).toEqual([
      'signing',
      'broadcast',
      'confirming',
    ])
    expect(progress.filter((p) => p.step === 'confirming').at(-1)).toEqual({
      step: 'confirming',
      done: 2,
      total: 2,
    })
    expect(progress.find((p) => p.step === 'broadcast')!.message).toMatch(/^0x[0-9a-f]{64}$/)
    const tokens = (await (
      await fetch(`${server.url}/api/tokens`, { headers: bearer(session.token) })
    ).json()) as {
      tokens: { address: string; ownerAddress: string }[]
    }
    expect(tokens.tokens[0]!.address).toBe(completed.data.result.address)
    expect(tokens.tokens[0]!.ownerAddress.toLowerCase()).toBe(session.user.address.toLowerCase())
    socket.close()
  }, 60_000)

  test('the owner comes from the session: an ownerAddress in the input → 422', async () => {
    const session = await signIn(server.url)
    const response = await startDeploy(session, {
      name: 'Other Owner',
      symbol: 'OWN',
      initialSupply: '10',
      ownerAddress: '0x0000000000000000000000000000000000000001',
    })
    expect(response.status).toBe(422)
    const bad = await startDeploy(session, { name: 'Bad', symbol: 'bad symbol', initialSupply: '10' })
    expect(bad.status).toBe(422)
    expect(((await bad.json()) as { error: { message: string } }).error.message).toStartWith('input.symbol')
  })

  test('cancelled after its transaction is broadcast: past the point of no return, it completes', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    await setAutomine(chain.rpcUrl, false)
    try {
      const { job } = (await (
        await startDeploy(session, { name: 'Unstoppable', symbol: 'UNS', initialSupply: '10' })
      ).json()) as { job: Job }
      await socket.next(
        (m) =>
          m.type === 'job_status' &&
          m.jobId === job.id &&
          (m as { progress?: Progress }).progress?.step === 'broadcast',
        20_000,
      )
      const cancel = await fetch(`${server.url}/api/jobs/${job.id}/cancel`, {
        method: 'POST',
        headers: bearer(session.token),
      })
      expect(cancel.status).toBe(202)
      expect(((await cancel.json()) as { job: Job }).job.status).toBe('running')
      await mine(chain.rpcUrl, 2)
      const ended = await socket.next<{ type: 'job_status'; status: string }>(
        (m) =>
          m.type === 'job_status' &&
          m.jobId === job.id &&
          (m.status === 'completed' || m.status === 'cancelled' || m.status === 'failed'),
        30_000,
      )
      expect(ended.status).toBe('completed')
    } finally {
      await setAutomine(chain.rpcUrl, true)
    }
    socket.close()
  }, 60_000)
})
