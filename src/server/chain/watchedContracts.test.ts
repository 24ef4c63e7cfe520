import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq, inArray } from 'drizzle-orm'
import {
  type Abi,
  type Address,
  createWalletClient,
  getAddress,
  type Hex,
  http,
  type PrivateKeyAccount,
} from 'viem'
import { foundry } from 'viem/chains'
import { type CompiledContract, compileContracts } from '../../../contracts/buildHeraldToken'
import { ANVIL_KEYS, deployDirect, fund, startTestChain, type TestChain } from '../../../test/helpers/anvil'
import {
  publicClientOf,
  storedTransferNotices,
  transferUpdates,
  waitForUpdate,
  watchContract,
  watcherAtHead,
} from '../../../test/helpers/chainEvents'
import { until } from '../../../test/helpers/drill'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { newAccount, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated } from '../../../test/helpers/wsClient'
import type { Notification, WatchedContract } from '../../shared/protocol'
import { tokenTransfers } from '../db/schema'

/**
 * Watching contracts Herald did not deploy (docs/protocol.md §8): the admin routes, and ERC-721 transfers
 * told apart from ERC-20 ones by their indexed topics. A real ERC-721 (OpenZeppelin's, compiled with the
 * bundled solc) on a real anvil. PGlite by default, PostgreSQL with HERALD_TEST_DATABASE_URL.
 */

let chain: TestChain
let server: TestServer
let collectible: CompiledContract
/** TestCollectible's ABI, as viem types it. */
let abi: Abi
let alice: Session
let bob: Session

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}/api/admin/watched-contracts${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...init.headers },
  })

async function deployCollectible(): Promise<Address> {
  const wallet = createWalletClient({
    account: alice.account,
    chain: foundry,
    transport: http(chain.rpcUrl),
  })
  const hash = await wallet.deployContract({ abi, bytecode: collectible.bytecode })
  const receipt = await publicClientOf(chain.rpcUrl).waitForTransactionReceipt({ hash })
  return getAddress(receipt.contractAddress!)
}

/** Calls mint(to, id) or transferFrom(from, to, id) on a collectible and waits for the block. */
async function call(
  account: PrivateKeyAccount,
  address: Address,
  functionName: 'mint' | 'transferFrom',
  args: readonly unknown[],
): Promise<{ hash: Hex; blockNumber: number; logIndex: number }> {
  const wallet = createWalletClient({ account, chain: foundry, transport: http(chain.rpcUrl) })
  const hash = await wallet.writeContract({ address, abi, functionName, args })
  const receipt = await publicClientOf(chain.rpcUrl).waitForTransactionReceipt({ hash })
  expect(receipt.status).toBe('success')
  return { hash, blockNumber: Number(receipt.blockNumber), logIndex: receipt.logs[0]!.logIndex }
}

beforeAll(async () => {
  collectible = compileContracts('contracts/test/TestCollectible.sol', ['TestCollectible']).contracts
    .TestCollectible!
  abi = collectible.abi as unknown as Abi
  chain = await startTestChain()
  server = await startTestServer({
    CHAIN_RPC_URL: chain.rpcUrl,
    DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
    WATCHER_INTERVAL_MS: '100',
  })
  alice = await signIn(server.url, newAccount())
  bob = await signIn(server.url, newAccount())
  await fund(chain.rpcUrl, alice.account.address)
  await fund(chain.rpcUrl, bob.account.address)
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await chain?.stop()
}, 30_000)

describe(`watched contracts (${usingPostgres() ? 'PostgreSQL' : 'PGlite'})`, () => {
  test('the admin routes: the key, the checks, created once, one standard per address, list, delete', async () => {
    const nft = await deployCollectible()
    const erc20 = await deployDirect(chain.rpcUrl, ANVIL_KEYS[1], {
      name: 'Plain',
      symbol: 'PLN',
      supply: 10n,
      recipient: alice.account.address,
    })
    expect((await watchContract(server.url, nft, 'erc721', 'wrong-key')).status).toBe(401)
    expect((await fetch(`${server.url}/api/admin/watched-contracts`)).status).toBe(401)
    const refused = async (address: string, standard: string, field: string) => {
      const response = await watchContract(server.url, address, standard)
      expect(response.status).toBe(422)
      const { error } = (await response.json()) as { error: { code: string; message: string } }
      expect(error.code).toBe('INVALID_INPUT')
      expect(error.message).toContain(field)
    }
    await refused('0x1234', 'erc20', 'address')
    await refused(nft, 'erc1155', 'standard')
    await refused(alice.account.address, 'erc20', 'no contract')
    await refused(nft, 'erc20', 'declares ERC-721')
    await refused(erc20, 'erc721', 'does not declare ERC-721')

    const created = await watchContract(server.url, nft.toLowerCase(), 'erc721')
    expect(created.status).toBe(201)
    const { contract } = (await created.json()) as { contract: WatchedContract }
    expect(contract).toEqual({ address: nft, standard: 'erc721', createdAt: expect.any(String) })
    const again = await watchContract(server.url, nft, 'erc721')
    expect(again.status).toBe(200)
    expect(await again.json()).toEqual({ contract })
    const conflict = await watchContract(server.url, nft, 'erc20')
    expect(conflict.status).toBe(409)
    expect(((await conflict.json()) as { error: { code: string } }).error.code).toBe('CONFLICT')
    expect((await watchContract(server.url, erc20, 'erc20')).status).toBe(201)

    const listed = (await (await admin('')).json()) as { contracts: WatchedContract[] }
    expect(listed.contracts.map((c) => [c.address, c.standard])).toEqual([
      [nft, 'erc721'],
      [erc20, 'erc20'],
    ])
    expect((await admin(`/${erc20.toLowerCase()}`, { method: 'DELETE' })).status).toBe(204)
    expect((await admin(`/${erc20}`, { method: 'DELETE' })).status).toBe(404)
    expect((await admin('/not-an-address', { method: 'DELETE' })).status).toBe(422)
    expect(((await (await admin('')).json()) as { contracts: WatchedContract[] }).contracts).toEqual([
      contract,
    ])
    expect((await admin(`/${nft}`, { method: 'DELETE' })).status).toBe(204)

    // Without a chain there is nothing to watch.
    const chainless = await startTestServer()
    try {
      expect((await watchContract(chainless.url, nft, 'erc721')).status).toBe(503)
    } finally {
      await chainless.stop()
    }
  }, 60_000)

  test('an ERC-721: a mint tells no one, a transfer tells both with its tokenId; an unregistered twin and earlier blocks are not read', async () => {
    const nft = await deployCollectible()
    const twin = await deployCollectible()
    // Before the registration: not back-filled.
    const early = await call(alice.account, nft, 'mint', [alice.account.address, 1n])
    expect((await watchContract(server.url, nft, 'erc721')).status).toBe(201)
    const aliceSocket = await connectAuthenticated(server.wsUrl, alice.token)
    const bobSocket = await connectAuthenticated(server.wsUrl, bob.token)

    const minted = await call(bob.account, nft, 'mint', [alice.account.address, 7n])
    const shown = await waitForUpdate(aliceSocket, minted.hash, (u) => u.action === 'created')
    expect(shown.transfer).toMatchObject({
      token: nft,
      standard: 'erc721',
      from: '0x0000000000000000000000000000000000000000',
      to: alice.account.address,
      tokenId: '7',
      status: 'confirmed',
      confirmations: 1,
    })
    expect(shown.transfer).not.toHaveProperty('value')

    // The twin's events look the same, and come first: once the real transfer is told, they were read.
    const twinMint = await call(alice.account, twin, 'mint', [alice.account.address, 7n])
    const twinTransfer = await call(alice.account, twin, 'transferFrom', [
      alice.account.address,
      bob.account.address,
      7n,
    ])
    const sent = await call(alice.account, nft, 'transferFrom', [
      alice.account.address,
      bob.account.address,
      7n,
    ])
    const noticeOf = (socket: typeof bobSocket, type: string) =>
      until(`${type} for ${sent.hash}`, () =>
        socket.messages
          .filter((m) => m.type === 'notification')
          .map((m) => (m as { notification: Notification }).notification)
          .find((n) => n.type === type),
      )
    const received = await noticeOf(bobSocket, 'token_transfer_received')
    const paid = await noticeOf(aliceSocket, 'token_transfer_sent')
    const data = {
      token: nft,
      symbol: 'TCOL',
      standard: 'erc721',
      from: alice.account.address,
      to: bob.account.address,
      tokenId: '7',
      txHash: sent.hash,
      logIndex: sent.logIndex,
      blockNumber: sent.blockNumber,
    }
    expect(received.data).toEqual(data)
    expect(paid.data).toEqual(data)
    expect(received.title).toBe('Received TCOL #7')
    expect(transferUpdates(bobSocket, sent.hash).map((u) => [u.action, u.transfer.status])).toEqual([
      ['created', 'confirmed'],
    ])

    await watcherAtHead(server.database.db, chain.rpcUrl)
    const db = server.database.db
    const hashes: string[] = [early.hash, twinMint.hash, twinTransfer.hash]
    expect(await db.select().from(tokenTransfers).where(inArray(tokenTransfers.txHash, hashes))).toEqual([])
    expect((await db.select().from(tokenTransfers).where(eq(tokenTransfers.tokenAddress, twin))).length).toBe(
      0,
    )
    const notices = (await storedTransferNotices(db)).filter((n) =>
      [...hashes, minted.hash].includes(n.txHash),
    )
    expect(notices).toEqual([])
    expect(
      (await storedTransferNotices(db)).filter((n) => n.txHash === sent.hash).map((n) => n.type),
    ).toEqual(['token_transfer_received', 'token_transfer_sent'])

    // Deleted: later transfers are not read; what was stored stays.
    expect((await admin(`/${nft}`, { method: 'DELETE' })).status).toBe(204)
    const after = await call(bob.account, nft, 'transferFrom', [
      bob.account.address,
      alice.account.address,
      7n,
    ])
    await watcherAtHead(db, chain.rpcUrl)
    expect(await db.select().from(tokenTransfers).where(eq(tokenTransfers.txHash, after.hash))).toEqual([])
    expect((await db.select().from(tokenTransfers).where(eq(tokenTransfers.tokenAddress, nft))).length).toBe(
      2,
    )
    aliceSocket.close()
    bobSocket.close()
  }, 60_000)
})
