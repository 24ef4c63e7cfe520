import {
  type Address,
  type Chain,
  type Client,
  createClient,
  defineChain,
  http,
  numberToHex,
  type Transport,
} from 'viem'
import { getBalance } from 'viem/actions'

/** GET /api/config */
export interface ServerConfig {
  chainId: number
  rpcUrl: string | null
  siweDomain: string
  version: string
  /** Who signs Herald's transactions: an airdrop spends what the owner approved it. */
  deployerAddress: string | null
}

/** anvil's chain id: the local development chain the server spawns. */
export const LOCAL_CHAIN_ID = 31337

export const isLocalChain = (config: ServerConfig) => config.chainId === LOCAL_CHAIN_ID

/** The server's chain as viem needs it; null when the server runs without one. */
export function chainOf(config: ServerConfig): Chain | null {
  if (!config.rpcUrl) return null
  return defineChain({
    id: config.chainId,
    name: isLocalChain(config) ? 'Anvil (local)' : `Herald chain ${config.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
    testnet: isLocalChain(config),
  })
}

/**
 * A bare client for the chain's RPC. The app calls viem's actions on it (`readContract(client, …)`) rather than
 * using createPublicClient, whose every action would be bundled.
 */
export type ChainClient = Client<Transport, Chain>

export function chainClientOf(chain: Chain): ChainClient {
  return createClient({ chain, transport: http() })
}

/** The minimal EIP-1193 surface the app uses. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown }): Promise<unknown>
  on?(event: string, listener: (...args: unknown[]) => void): void
  removeListener?(event: string, listener: (...args: unknown[]) => void): void
}

const codeOf = (error: unknown) => {
  const e = error as { code?: number; data?: { originalError?: { code?: number } } } | null
  return e?.data?.originalError?.code ?? e?.code
}

/** Puts an injected wallet on the server's chain: switch, or add it first when the wallet does not know it. */
export async function ensureWalletChain(provider: Eip1193Provider, chain: Chain): Promise<void> {
  const current = await provider.request({ method: 'eth_chainId' })
  if (Number(current) === chain.id) return
  const chainId = numberToHex(chain.id)
  try {
    await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] })
  } catch (error) {
    // 4902: unknown chain (some wallets report it as an internal error wrapping 4902).
    if (codeOf(error) !== 4902 && codeOf(error) !== -32603) throw error
    await provider.request({
      method: 'wallet_addEthereumChain',
      params: [
        {
          chainId,
          chainName: chain.name,
          nativeCurrency: chain.nativeCurrency,
          rpcUrls: chain.rpcUrls.default.http,
        },
      ],
    })
    await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] })
  }
}

/** Below this a burner gets topped up before it sends (gas on anvil costs far less). */
const LOW_BALANCE = 10n ** 16n
const FUNDED_BALANCE = 10n ** 19n

/**
 * DEVELOPMENT ONLY: gives an address 10 ETH on the local anvil chain with `anvil_setBalance`. Only anvil
 * answers this method; Herald only offers it for the local chain (id 31337).
 */
export async function fundOnAnvil(publicClient: ChainClient, address: Address): Promise<void> {
  // A method outside viem's typed public RPC schema: called untyped.
  const request = publicClient.request as unknown as (args: {
    method: string
    params: unknown[]
  }) => Promise<unknown>
  await request({ method: 'anvil_setBalance', params: [address, numberToHex(FUNDED_BALANCE)] })
}

/** Tops a burner up when it is low; true when it did. */
export async function ensureBurnerFunds(publicClient: ChainClient, address: Address): Promise<boolean> {
  const balance = await getBalance(publicClient, { address })
  if (balance >= LOW_BALANCE) return false
  await fundOnAnvil(publicClient, address)
  return true
}
