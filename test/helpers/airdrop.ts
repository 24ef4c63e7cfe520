import { expect } from 'bun:test'
import {
  type Address,
  createPublicClient,
  createWalletClient,
  erc20Abi,
  getAddress,
  http,
  parseUnits,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { ANVIL_KEYS, fund } from './anvil'
import { bearer, newAccount, type Session } from './wallet'

/** Herald's deployer in the tests (ANVIL_KEYS[0]): it signs the airdrop's transfers. */
export const DEPLOYER = privateKeyToAccount(ANVIL_KEYS[0]! as `0x${string}`).address

/**
 * A Herald token of the session's user, deployed through POST /api/tokens, with Herald's deployer approved for
 * `approve` whole tokens by the owner (as the web form does with the wallet before it starts an airdrop).
 */
export async function ownedToken(
  url: string,
  rpcUrl: string,
  session: Session,
  approve: string,
): Promise<Address> {
  const response = await fetch(`${url}/api/tokens`, {
    method: 'POST',
    headers: { ...bearer(session.token), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Airdrop Token', symbol: 'DROP', initialSupply: '1000000' }),
  })
  expect(response.status).toBe(202)
  const { jobId } = (await response.json()) as { jobId: string }
  let address: Address | null = null
  for (let i = 0; i < 600 && !address; i++) {
    const job = (await (
      await fetch(`${url}/api/jobs/${jobId}`, { headers: bearer(session.token) })
    ).json()) as {
      status: string
      result: { address: Address } | null
    }
    if (job.status === 'failed') throw new Error('the token deployment failed')
    if (job.status === 'completed') address = job.result!.address
    else await Bun.sleep(100)
  }
  if (!address) throw new Error('the token deployment did not complete')
  await fund(rpcUrl, session.account.address)
  const wallet = createWalletClient({ account: session.account, transport: http(rpcUrl) })
  const chain = createPublicClient({ transport: http(rpcUrl) })
  const hash = await wallet.writeContract({
    chain: null,
    address,
    abi: erc20Abi,
    functionName: 'approve',
    args: [DEPLOYER, parseUnits(approve, 18)],
  })
  await chain.waitForTransactionReceipt({ hash, pollingInterval: 50 })
  return address
}

/** `count` fresh recipients with amounts 1, 2, 3… whole tokens. */
export const recipients = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    address: getAddress(newAccount().address),
    amount: String(i + 1),
  }))

export async function balancesOf(rpcUrl: string, token: Address, addresses: readonly string[]) {
  const chain = createPublicClient({ transport: http(rpcUrl) })
  return Promise.all(
    addresses.map((address) =>
      chain.readContract({
        address: token,
        abi: erc20Abi,
        functionName: 'balanceOf',
        args: [address as Address],
      }),
    ),
  )
}
