import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { parseUnits } from 'viem'
import { balancesOf, DEPLOYER, ownedToken, recipients } from '../../../test/helpers/airdrop'
import { ANVIL_KEYS, startTestChain, transactionCount } from '../../../test/helpers/anvil'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { until } from '../../../test/helpers/until'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated } from '../../../test/helpers/wsClient'
import type { Job } from '../../shared/protocol'

let chain: Awaited<ReturnType<typeof startTestChain>>
let server: TestServer

beforeAll(async () => {
  chain = await startTestChain()
  server = await startTestServer({ CHAIN_RPC_URL: chain.rpcUrl, DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0]! })
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await chain?.stop()
})

const startAirdrop = (session: Session, input: unknown, key = crypto.randomUUID()) =>
  fetch(`${server.url}/api/jobs`, {
    method: 'POST',
    headers: { ...bearer(session.token), 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ type: 'airdrop', input }),
  })

describe('the airdrop job', () => {
  test('pays each recipient its amount once, with progress done/total live and a result per recipient', async () => {
    const session = await signIn(server.url)
    const token = await ownedToken(server.url, chain.rpcUrl, session, '100')
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const list = recipients(8)
    const nonceBefore = await transactionCount(chain.rpcUrl, DEPLOYER)
    const key = crypto.randomUUID()
    const response = await startAirdrop(session, { token, recipients: list }, key)
    expect(response.status).toBe(202)
    const { job } = (await response.json()) as { job: Job }
    // The same submission again (a double click): the same job, nothing more.
    const again = await startAirdrop(session, { token, recipients: list }, key)
    expect(((await again.json()) as { job: Job }).job.id).toBe(job.id)
    await socket.next(
      (m) => m.type === 'job_status' && m.jobId === job.id && m.status === 'completed',
      30_000,
    )
    const progress = socket.messages
      .filter((m) => m.type === 'job_status' && m.jobId === job.id && 'progress' in m)
      .map((m) => (m as { progress: { step: string; done: number; total: number } }).progress)
    const steps = (step: string) => progress.filter((p) => p.step === step).map((p) => p.done)
    expect(steps('sending')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
    expect(steps('confirming')).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(progress.every((p) => p.total === 8)).toBe(true)
    const balances = await balancesOf(
      chain.rpcUrl,
      token,
      list.map((r) => r.address),
    )
    expect(balances).toEqual(list.map((r) => parseUnits(r.amount, 18)))
    expect(await transactionCount(chain.rpcUrl, DEPLOYER)).toBe(nonceBefore + 8)
    const read = (await (
      await fetch(`${server.url}/api/jobs/${job.id}`, { headers: bearer(session.token) })
    ).json()) as Job
    const result = read.result as { recipients: { address: string; status: string; txHash: string }[] }
    expect(result.recipients.map((r) => r.address)).toEqual(list.map((r) => r.address))
    expect(result.recipients.every((r) => r.status === 'success')).toBe(true)
    socket.close()
  }, 60_000)

  test('two airdrops of two owners started at once on one deployer: each completes, every nonce used once', async () => {
    const owners = [await signIn(server.url), await signIn(server.url)]
    const tokens = [] as `0x${string}`[]
    for (const owner of owners) tokens.push(await ownedToken(server.url, chain.rpcUrl, owner, '1000'))
    const lists = [recipients(12), recipients(12)]
    const nonceBefore = await transactionCount(chain.rpcUrl, DEPLOYER)
    const started = await Promise.all(
      owners.map(async (owner, i) => {
        const response = await startAirdrop(owner, { token: tokens[i], recipients: lists[i] })
        expect(response.status).toBe(202)
        return ((await response.json()) as { job: Job }).job
      }),
    )
    for (const [i, job] of started.entries()) {
      const done = await until(
        `airdrop ${job.id} to end`,
        async () => {
          const read = (await (
            await fetch(`${server.url}/api/jobs/${job.id}`, { headers: bearer(owners[i]!.token) })
          ).json()) as Job
          return read.status === 'pending' || read.status === 'running' ? undefined : read
        },
        60_000,
        100,
      )
      expect(done.status).toBe('completed')
      const balances = await balancesOf(
        chain.rpcUrl,
        tokens[i]!,
        lists[i]!.map((r) => r.address),
      )
      expect(balances).toEqual(lists[i]!.map((r) => parseUnits(r.amount, 18)))
    }
    expect(await transactionCount(chain.rpcUrl, DEPLOYER)).toBe(nonceBefore + 24)
  }, 90_000)

  test('cancelled between recipients: ends cancelled, those sent are paid once, the rest never', async () => {
    const session = await signIn(server.url)
    const list = recipients(150)
    const token = await ownedToken(server.url, chain.rpcUrl, session, '20000')
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const nonceBefore = await transactionCount(chain.rpcUrl, DEPLOYER)
    const { job } = (await (await startAirdrop(session, { token, recipients: list })).json()) as { job: Job }
    await socket.next(
      (m) =>
        m.type === 'job_status' &&
        m.jobId === job.id &&
        ((m as { progress?: { done: number } }).progress?.done ?? 0) >= 5,
      30_000,
    )
    const cancel = await fetch(`${server.url}/api/jobs/${job.id}/cancel`, {
      method: 'POST',
      headers: bearer(session.token),
    })
    expect(cancel.status).toBe(202)
    const ended = await socket.next<{
      type: 'job_status'
      data: { result: { recipients: { address: string }[] } }
    }>(
      (m) =>
        m.type === 'job_status' &&
        m.jobId === job.id &&
        (m.status === 'cancelled' || m.status === 'completed'),
      30_000,
    )
    expect((ended as unknown as { status: string }).status).toBe('cancelled')
    const paid = ended.data.result.recipients.length
    expect(paid).toBeGreaterThanOrEqual(5)
    expect(paid).toBeLessThan(list.length)
    const balances = await balancesOf(
      chain.rpcUrl,
      token,
      list.map((r) => r.address),
    )
    expect(balances).toEqual(list.map((r, i) => (i < paid ? parseUnits(r.amount, 18) : 0n)))
    expect(await transactionCount(chain.rpcUrl, DEPLOYER)).toBe(nonceBefore + paid)
    socket.close()
  }, 90_000)

  test('refused: duplicates, more than 500, a bad amount (422); not the owner’s token or no allowance (failed)', async () => {
    const session = await signIn(server.url)
    const list = recipients(2)
    const token = '0x0000000000000000000000000000000000000001'
    const duplicate = await startAirdrop(session, { token, recipients: [list[0], list[0]] })
    expect(duplicate.status).toBe(422)
    const many = await startAirdrop(session, { token, recipients: recipients(501) })
    expect(many.status).toBe(422)
    const amount = await startAirdrop(session, { token, recipients: [{ ...list[0], amount: '-1' }] })
    expect(amount.status).toBe(422)
    expect(((await amount.json()) as { error: { message: string } }).error.message).toStartWith(
      'input.recipients.0.amount',
    )
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const response = await startAirdrop(session, { token, recipients: list })
    const { job } = (await response.json()) as { job: Job }
    const failed = await socket.next<{ type: 'job_status'; data: { error: string } }>(
      (m) => m.type === 'job_status' && m.jobId === job.id && m.status === 'failed',
      15_000,
    )
    expect(failed.data.error).toMatch(/not one of your Herald tokens/)
    socket.close()
  }, 60_000)
})
