import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { count, eq } from 'drizzle-orm'
import {
  ANVIL_ADDRESSES,
  ANVIL_KEYS,
  startTestChain,
  type TestChain,
  transactionCount,
} from '../../../test/helpers/anvil'
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcpProxy'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification, Token } from '../../shared/protocol'
import { jobs, tokens } from '../db/schema'

// POST /api/tokens with an Idempotency-Key (docs/protocol.md §6): a client whose connection is cut after the
// request reached the server, retrying with the same key, gets one job and one contract. The job, its queue
// entry and the stored answer commit together (enqueueJob).

let chain: TestChain
let server: TestServer
let proxy: TcpProxy
const sockets: TestSocket[] = []

beforeAll(async () => {
  chain = await startTestChain()
  server = await startTestServer({ CHAIN_RPC_URL: chain.rpcUrl, DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0]! })
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(server.url).port) })
}, 60_000)
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await proxy?.stop()
  await server?.stop()
  await chain?.stop()
}, 30_000)

/** Sends the deployment until an answer arrives, always with `key`, as a careful client does. */
async function deployUntilAnswered(session: Session, body: Record<string, string>, key: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${proxy.url(server.url)}api/tokens`, {
        method: 'POST',
        headers: { ...bearer(session.token), 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      })
      return { attempt, response }
    } catch (error) {
      if (attempt >= 5) throw error
    }
  }
}

const jobsOf = async (userId: string) =>
  (
    await server.database.db
      .select({ n: count() })
      .from(jobs)
      .where(eq(jobs.userId, Number(userId)))
  )[0]!.n
const tokensOf = async (userId: string) =>
  (
    await server.database.db
      .select({ n: count() })
      .from(tokens)
      .where(eq(tokens.userId, Number(userId)))
  )[0]!.n

describe('POST /api/tokens exactly once', () => {
  test('the first answer is lost after the commit: the retry with the same key gets the same job; one contract', async () => {
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    sockets.push(socket)
    const nonceBefore = await transactionCount(chain.rpcUrl, ANVIL_ADDRESSES[0])
    const key = crypto.randomUUID()
    proxy.dropReplies(1)
    const { attempt, response } = await deployUntilAnswered(
      session,
      { name: 'Once Token', symbol: 'ONCE', initialSupply: '1000' },
      key,
    )
    expect(attempt).toBe(2)
    expect(response.status).toBe(202)
    expect(response.headers.get('idempotent-replayed')).toBe('true')
    const { jobId } = (await response.json()) as { jobId: string }

    await socket.next((m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'completed', 30_000)
    expect(await jobsOf(session.user.id)).toBe(1)
    expect(await tokensOf(session.user.id)).toBe(1)
    expect(await transactionCount(chain.rpcUrl, ANVIL_ADDRESSES[0])).toBe(nonceBefore + 1)
    const list = (await (
      await fetch(`${server.url}/api/tokens`, { headers: bearer(session.token) })
    ).json()) as {
      tokens: Token[]
    }
    expect(list.tokens.map((t) => t.symbol)).toEqual(['ONCE'])
    // One job's statuses, with the deployment's progress steps (docs/protocol.md §5) while it runs.
    const statuses = socket.messages
      .filter((m) => m.type === 'job_status')
      .map((m) => {
        const {
          jobId: id,
          status,
          progress,
        } = m as { jobId: string; status: string; progress?: { step: string } }
        return `${id}:${status}${progress ? `:${progress.step}` : ''}`
      })
    expect(statuses).toEqual([
      `${jobId}:pending`,
      `${jobId}:running`,
      `${jobId}:running:signing`,
      `${jobId}:running:broadcast`,
      `${jobId}:running:confirming`,
      `${jobId}:completed`,
    ])
    const notices = socket.messages
      .filter((m) => m.type === 'notification')
      .map((m) => (m as { notification: Notification }).notification.type)
    expect(notices).toEqual([
      'token_deployment_started',
      'token_deployment_pending',
      'token_deployment_success',
    ])
  }, 60_000)

  test('three at once with one key: one job; another body with the key → 422, nothing queued', async () => {
    const session = await signIn(server.url)
    const key = crypto.randomUUID()
    const body = { name: 'Same Token', symbol: 'SAME', initialSupply: '5' }
    const answers = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const response = await fetch(`${server.url}/api/tokens`, {
          method: 'POST',
          headers: { ...bearer(session.token), 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
        })
        return { status: response.status, text: await response.text() }
      }),
    )
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202])
    expect(new Set(answers.map((a) => a.text)).size).toBe(1)
    const other = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ ...body, symbol: 'OTHER' }),
    })
    expect(other.status).toBe(422)
    expect(await jobsOf(session.user.id)).toBe(1)
  }, 30_000)
})
