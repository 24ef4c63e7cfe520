import { join } from 'node:path'
import { createPublicClient, http, type PrivateKeyAccount, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { Config } from '../config/loadConfig'
import { ConfigError, type ErrorReporter } from '../errors'
import { startAnvil } from './startAnvil'

/** Anvil's first dev account: funded on every fresh local chain, and public knowledge. */
export const ANVIL_DEPLOYER_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'

export interface ChainContext {
  chainId: number
  rpcUrl: string
  publicClient: PublicClient
  /** Null for ROLE=server with a remote chain: it never sends transactions. */
  deployer: PrivateKeyAccount | null
  confirmations: number
  local: boolean
  /** How often to poll for receipts and logs: fast on a local chain, gentle on a remote one. */
  pollingIntervalMs: number
  stop(): Promise<void>
}

/**
 * The chain Herald deploys to: CHAIN_RPC_URL when set, otherwise an anvil spawned on 127.0.0.1 with its
 * state kept in DATA_DIR (so deployed tokens survive a restart). Null when LOCAL_CHAIN=false and no RPC.
 */
export async function connectChain(config: Config, onError: ErrorReporter): Promise<ChainContext | null> {
  let rpcUrl: string | null = config.chainRpcUrl
  let stopLocal = async () => {}
  let deployerKey = config.deployerPrivateKey
  const local = rpcUrl === null
  if (rpcUrl === null) {
    if (!config.localChain) return null
    const anvil = await startAnvil({
      chainId: config.chainId ?? 31337,
      stateFile: join(config.dataDir, 'anvil', 'state.json'),
      onError,
    })
    rpcUrl = anvil.rpcUrl
    stopLocal = anvil.stop
    deployerKey ??= ANVIL_DEPLOYER_KEY
  }
  const url: string = rpcUrl
  const pollingIntervalMs = local ? 100 : 2000
  const publicClient = createPublicClient({
    // Bounded: a node that accepts and never answers fails the call (after the retries) instead of holding
    // a job, a sign-in or /health for ever.
    transport: http(url, { timeout: config.chainRpcTimeoutSeconds * 1000, retryCount: 2 }),
    pollingInterval: pollingIntervalMs,
  }) as PublicClient
  let chainId: number
  try {
    chainId = await publicClient.getChainId()
  } catch (error) {
    await stopLocal()
    throw new ConfigError(
      `CHAIN_RPC_URL ${rpcUrl} does not answer eth_chainId (${(error as Error).message}).`,
    )
  }
  if (config.chainId !== null && config.chainId !== chainId) {
    await stopLocal()
    throw new ConfigError(`CHAIN_ID is ${config.chainId} but the chain at CHAIN_RPC_URL reports ${chainId}.`)
  }
  return {
    chainId,
    rpcUrl: url,
    publicClient,
    deployer: deployerKey ? privateKeyToAccount(deployerKey) : null,
    confirmations: config.confirmations,
    local,
    pollingIntervalMs,
    stop: stopLocal,
  }
}
