import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  getAddress,
  type Hex,
  http,
  parseEther,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { heraldTokenAbi, heraldTokenBytecode } from '../../src/server/chain/heraldToken'
import { type AnvilInstance, type StartAnvilOptions, startAnvil } from '../../src/server/chain/startAnvil'

/** Anvil's first three dev keys (from the "test test … junk" mnemonic), each funded with 10 000 ETH. */
export const ANVIL_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
] as const satisfies readonly Hex[]

/** The addresses of ANVIL_KEYS, in the same order. */
export const ANVIL_ADDRESSES = [
  '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
  '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
] as const satisfies readonly Hex[]

export type TestChain = AnvilInstance

/**
 * A throwaway anvil for one test file: chain 31337, automine, no state file, the standard dev accounts.
 * Unexpected exits are printed rather than thrown. Call stop() in afterAll.
 */
export function startTestChain(options: StartAnvilOptions = {}): Promise<TestChain> {
  return startAnvil({
    chainId: 31337,
    onError: (error, context) => console.error(`[test anvil] ${context}:`, error),
    ...options,
  })
}

const testClientOf = (rpcUrl: string) =>
  createTestClient({ mode: 'anvil', chain: foundry, transport: http(rpcUrl) })

/** Gives `address` this much ETH (anvil_setBalance); default 10 ETH. */
export async function fund(rpcUrl: string, address: Address, wei: bigint = parseEther('10')): Promise<void> {
  await testClientOf(rpcUrl).setBalance({ address, value: wei })
}

/** Mines `blocks` empty blocks (anvil_mine). */
export async function mine(rpcUrl: string, blocks = 1): Promise<void> {
  await testClientOf(rpcUrl).mine({ blocks })
}

/** The next nonce of `address` (its confirmed transaction count). */
export async function transactionCount(rpcUrl: string, address: Address): Promise<number> {
  return createPublicClient({ chain: foundry, transport: http(rpcUrl) }).getTransactionCount({ address })
}

/** Turns anvil's automine (a block per transaction) on or off. */
export async function setAutomine(rpcUrl: string, enabled: boolean): Promise<void> {
  await testClientOf(rpcUrl).setAutomine(enabled)
}

/**
 * Deploys the HeraldToken bytecode straight from `privateKey`, not through Herald: a look-alike Herald
 * never recorded. Returns the contract's address once mined.
 */
export async function deployDirect(
  rpcUrl: string,
  privateKey: Hex,
  token: { name: string; symbol: string; supply: bigint; recipient: Address },
): Promise<Address> {
  const wallet = createWalletClient({
    account: privateKeyToAccount(privateKey),
    chain: foundry,
    transport: http(rpcUrl),
  })
  const hash = await wallet.deployContract({
    abi: heraldTokenAbi,
    bytecode: heraldTokenBytecode,
    args: [token.name, token.symbol, token.supply, token.recipient],
  })
  const receipt = await createPublicClient({
    chain: foundry,
    transport: http(rpcUrl),
  }).waitForTransactionReceipt({
    hash,
    pollingInterval: 50,
  })
  if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error(`deployment ${hash} failed`)
  return getAddress(receipt.contractAddress)
}

/** One JSON-RPC call, for anvil's methods that viem has no action for. */
export async function anvilRpc<T = unknown>(
  rpcUrl: string,
  method: string,
  params: unknown[] = [],
): Promise<T> {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = (await response.json()) as { result?: T; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}

/**
 * A reorganisation (anvil_reorg): the last `depth` blocks are replaced by as many new ones at the same heights.
 * Their transactions are gone, not back in the pool, unless listed in `include` as [signed bytes, index of the
 * new block (0 = the lowest)], which is how a transaction reappears at another height.
 */
export async function reorg(rpcUrl: string, depth: number, include: [Hex, number][] = []): Promise<void> {
  await anvilRpc(rpcUrl, 'anvil_reorg', [depth, include])
}

/** Removes the last `depth` blocks and their transactions (anvil_rollback): the chain gets shorter. */
export async function rollback(rpcUrl: string, depth: number): Promise<void> {
  await anvilRpc(rpcUrl, 'anvil_rollback', [depth])
}

/** The signed bytes of a transaction the node knows, to send it again after a reorganisation. */
export async function rawTransaction(rpcUrl: string, hash: Hex): Promise<Hex> {
  const raw = await anvilRpc<Hex | null>(rpcUrl, 'eth_getRawTransactionByHash', [hash])
  if (!raw) throw new Error(`the node does not know ${hash}`)
  return raw
}
