import type { Address } from 'viem'
import { ANVIL_KEYS, deployDirect, fund, mine, startTestChain, type TestChain } from './anvil'
import { publicClientOf, sendTokenTransfer, watchContract, watcherAtHead } from './chainEvents'
import { startTestServer, type TestServer } from './testServer'
import { newAccount, type Session, signIn } from './wallet'

/** A chain, a Herald watching one ERC-20 on it, and two funded users who hold the token. */
export interface WatchedToken {
  chain: TestChain
  /** The server's environment, for more servers on the same chain. */
  env: Record<string, string>
  server: TestServer
  /** Holds the supply, less what went to bob. */
  alice: Session
  bob: Session
  /** A HeraldToken deployed outside Herald and registered as a watched ERC-20. */
  token: Address
  /** The first block the server reads the token in. */
  registeredFrom: number
  stop(): Promise<void>
}

/**
 * What the reorganisation tests start from: the token's deployment and registration lie eight blocks below
 * the head, out of reach of their reorganisations (depth 5 at most), and the watcher has read up to the head.
 */
export async function startWatchedToken(params: {
  confirmations: number
  symbol: string
  supply: bigint
  /** Sent from alice to bob before the safety blocks, so both can send. */
  toBob: bigint
}): Promise<WatchedToken> {
  const chain = await startTestChain()
  const env = {
    CHAIN_RPC_URL: chain.rpcUrl,
    DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
    TX_BLOCK_CONFIRMATIONS_REQUIRED: String(params.confirmations),
    WATCHER_INTERVAL_MS: '100',
  }
  const server = await startTestServer(env)
  const alice = await signIn(server.url, newAccount())
  const bob = await signIn(server.url, newAccount())
  await fund(chain.rpcUrl, alice.account.address)
  await fund(chain.rpcUrl, bob.account.address)
  const token = await deployDirect(chain.rpcUrl, ANVIL_KEYS[1], {
    name: `${params.symbol} Token`,
    symbol: params.symbol,
    supply: params.supply,
    recipient: alice.account.address,
  })
  const response = await watchContract(server.url, token, 'erc20')
  if (response.status !== 201) throw new Error(`registering ${token}: ${response.status}`)
  const registeredFrom = Number(await publicClientOf(chain.rpcUrl).getBlockNumber({ cacheTime: 0 })) + 1
  await sendTokenTransfer(chain.rpcUrl, alice.account, token, bob.account.address, params.toBob)
  await mine(chain.rpcUrl, 8)
  await watcherAtHead(server.database.db, chain.rpcUrl)
  return {
    chain,
    env,
    server,
    alice,
    bob,
    token,
    registeredFrom,
    async stop() {
      await server.stop()
      await chain.stop()
    },
  }
}
