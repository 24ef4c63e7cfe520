import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { type Address, getAddress, type Hex } from 'viem'
import {
  ANVIL_ADDRESSES,
  ANVIL_KEYS,
  anvilRpc,
  mine,
  rollback,
  setAutomine,
  startTestChain,
  type TestChain,
  transactionCount,
} from '../../../test/helpers/anvil'
import { publicClientOf } from '../../../test/helpers/chainEvents'
import { until } from '../../../test/helpers/drill'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { chainTransactions, tokens } from '../db/schema'

/**
 * A deployment through a reorganisation (docs/protocol.md §8): its block is rolled back before it has its
 * confirmations, the node forgets the transaction, and Herald sends the same signed bytes again and waits
 * again. One contract in the end, at the address of the first attempt, and one of each notification.
 */

const CONFIRMATIONS = 3

let chain: TestChain
let server: TestServer

beforeAll(async () => {
  chain = await startTestChain()
  server = await startTestServer({
    CHAIN_RPC_URL: chain.rpcUrl,
    DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
    TX_BLOCK_CONFIRMATIONS_REQUIRED: String(CONFIRMATIONS),
    WATCHER_INTERVAL_MS: '100',
  })
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await chain?.stop()
}, 30_000)

type NotificationMessage = { type: 'notification'; notification: Notification }

describe(`a deployment whose block is rolled back (${usingPostgres() ? 'PostgreSQL' : 'PGlite'})`, () => {
  test('before its confirmations: the same transaction again, one contract, one of each notification', async () => {
    const rpc = chain.rpcUrl
    const client = publicClientOf(rpc)
    const session = await signIn(server.url)
    const socket = await connectAuthenticated(server.wsUrl, session.token)
    const nonceBefore = await transactionCount(rpc, ANVIL_ADDRESSES[0])
    const response = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Rolled Back', symbol: 'ROLL', initialSupply: '100' }),
    })
    expect(response.status).toBe(202)
    const { jobId } = (await response.json()) as { jobId: string }
    const notices = () =>
      socket.messages
        .filter((m): m is NotificationMessage => m.type === 'notification')
        .map((m) => m.notification)
        .filter((n) => (n.data as { jobId?: string } | null)?.jobId === jobId)
    const pending = await until('the pending notification', () =>
      notices().find((n) => n.type === 'token_deployment_pending'),
    )
    const txHash = (pending.data as { txHash: Hex }).txHash
    // Mined at once (automine): one confirmation of three.
    const first = await client.waitForTransactionReceipt({ hash: txHash })
    const address = getAddress(first.contractAddress!)

    // Its block goes; the node keeps nothing of it. Blocks stop coming on their own, so the retry stays
    // visible in the pool until the test mines it.
    await setAutomine(rpc, false)
    try {
      await rollback(rpc, 1)
      expect(await anvilRpc(rpc, 'eth_getTransactionReceipt', [txHash])).toBeNull()
      expect(await client.getCode({ address })).toBeUndefined()
      // Only Herald holds the signed bytes: the transaction is back because it sent them again.
      await until('the same transaction to be broadcast again', async () =>
        (await anvilRpc(rpc, 'eth_getTransactionByHash', [txHash])) ? true : undefined,
      )
    } finally {
      await setAutomine(rpc, true)
    }
    await mine(rpc, 1)
    const again = await client.waitForTransactionReceipt({ hash: txHash })
    expect(again.blockHash).not.toBe(first.blockHash)
    expect(getAddress(again.contractAddress!)).toBe(address)
    expect(notices().some((n) => n.type === 'token_deployment_success')).toBe(false)

    const miner = setInterval(() => void mine(rpc, 1).catch(() => {}), 150)
    try {
      await until(
        'the job to complete',
        () =>
          socket.messages.find(
            (m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'completed',
          ),
        30_000,
      )
    } finally {
      clearInterval(miner)
    }
    expect(notices().map((n) => n.type)).toEqual([
      'token_deployment_started',
      'token_deployment_pending',
      'token_deployment_success',
    ])
    const success = notices()[2]!
    expect(success.data).toMatchObject({ address, txHash, blockNumber: Number(again.blockNumber) })
    expect(await transactionCount(rpc, ANVIL_ADDRESSES[0])).toBe(nonceBefore + 1)
    expect(await client.getCode({ address })).toMatch(/^0x[0-9a-f]+$/)
    const db = server.database.db
    expect(
      await db
        .select({ address: tokens.address })
        .from(tokens)
        .where(eq(tokens.jobId, Number(jobId))),
    ).toEqual([{ address }])
    expect(
      await db
        .select({ hash: chainTransactions.hash })
        .from(chainTransactions)
        .where(eq(chainTransactions.jobId, Number(jobId))),
    ).toEqual([{ hash: txHash }])
    const listed = (await (
      await fetch(`${server.url}/api/tokens`, { headers: bearer(session.token) })
    ).json()) as {
      tokens: { address: Address; deploymentTx: string }[]
    }
    expect(listed.tokens).toEqual([expect.objectContaining({ address, deploymentTx: txHash })])
    socket.close()
  }, 60_000)
})
