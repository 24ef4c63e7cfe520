import {
  type Account,
  type Address,
  type Chain,
  type Client,
  createClient,
  custom,
  getAddress,
  type Hex,
  http,
  type Transport,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { requestAddresses } from 'viem/actions'
import type { Eip1193Provider } from './chain'
import type { WalletRef } from './session'
import { storage } from './storage'

/** An injected wallet: announced through EIP-6963, or window.ethereum when none announced itself. */
export interface InjectedWallet {
  /** The EIP-6963 rdns (or uuid), or 'injected' for window.ethereum. */
  id: string
  name: string
  /** A data: URI from the wallet itself (EIP-6963), shown only in an <img>. */
  icon: string | null
  provider: Eip1193Provider
}

/** A wallet the user connected: it signs the sign-in message and sends transfers. */
export interface ConnectedWallet extends WalletRef {
  icon: string | null
  address: Address
  /** Use with viem's actions: `writeContract(wallet.client, …)`. */
  client: Client<Transport, Chain | undefined, Account>
  /** Injected wallets only: for chain switching and account changes. */
  provider: Eip1193Provider | null
}

export const BURNER_ID = 'burner'

const noChain = custom({
  request: () => Promise.reject(new Error('This server runs without a chain.')),
})
const BURNER_KEY = 'herald.burnerKey'

/**
 * DEVELOPMENT ONLY: the burner's private key, generated once and kept in localStorage (readable by any script
 * on this origin). Offered only on the local anvil chain.
 */
function burnerKey(): Hex {
  const stored = storage.get(BURNER_KEY)
  if (stored && /^0x[0-9a-fA-F]{64}$/.test(stored)) return stored as Hex
  const key = generatePrivateKey()
  storage.set(BURNER_KEY, key)
  return key
}

export function connectBurner(chain: Chain | null): ConnectedWallet {
  const account = privateKeyToAccount(burnerKey())
  return {
    kind: 'burner',
    id: BURNER_ID,
    name: 'Burner wallet',
    icon: null,
    address: account.address,
    // Without a chain the burner can still sign in (signing is local); sending needs the chain's RPC.
    client: createClient({ account, chain: chain ?? undefined, transport: chain ? http() : noChain }),
    provider: null,
  }
}

/**
 * Connects an injected wallet: asks for its accounts (a prompt), or with `silent` only reads the ones it already
 * shares with this site (after a reload). Null when it shares none.
 */
export async function connectInjected(
  wallet: InjectedWallet,
  chain: Chain | null,
  silent = false,
): Promise<ConnectedWallet | null> {
  const transport = custom(wallet.provider)
  const addresses = silent
    ? ((await wallet.provider.request({ method: 'eth_accounts' })) as string[])
    : await requestAddresses(createClient({ transport }))
  const first = addresses?.[0]
  if (!first) return null
  const address = getAddress(first)
  return {
    kind: 'injected',
    id: wallet.id,
    name: wallet.name,
    icon: wallet.icon,
    address,
    client: createClient({ account: address, chain: chain ?? undefined, transport }),
    provider: wallet.provider,
  }
}
