// Contract-wallet sign-in against a real contract on a real anvil: EIP-1271 (a deployed wallet whose
// isValidSignature checks its owner's ECDSA signature) and EIP-6492 (a counterfactual wallet a factory would
// deploy at a CREATE2 address). Verification needs a chain; a server without one accepts only EOA signatures.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import {
  type Abi,
  type Address,
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  getAddress,
  type Hex,
  http,
  keccak256,
  type PrivateKeyAccount,
  serializeErc6492Signature,
  toHex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { type CompiledContract, compileContracts } from '../../../contracts/buildHeraldToken'
import { ANVIL_KEYS, startTestChain, type TestChain } from '../../../test/helpers/anvil'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, newAccount, signIn, trySignInAs } from '../../../test/helpers/wallet'

const SOURCE = 'contracts/test/TestWallet1271.sol'

// Each test is a few RPC round trips; the margin is for a busy machine.
setDefaultTimeout(30_000)

type ErrorBody = { error: { code: string; message: string } }
type SessionBody = { token: string; expiresAt: string; user: { id: string; address: string } }

let chain: TestChain
/** A server verifying contract wallets against `chain`. */
let onChain: TestServer
/** A server without a chain (the test helper's default): EOA signatures only. */
let noChain: TestServer
let walletContract: CompiledContract
let factoryContract: CompiledContract
let publicClient: ReturnType<typeof createPublicClient>
const walletClientOf = (rpcUrl: string) =>
  createWalletClient({ account: privateKeyToAccount(ANVIL_KEYS[0]), chain: foundry, transport: http(rpcUrl) })
let walletClient: ReturnType<typeof walletClientOf>
/** The EOA that owns the deployed wallet. */
let owner: PrivateKeyAccount
/** A deployed TestWallet1271 owned by `owner`. */
let wallet: Address
let factory: Address

/** solc's ABI, for viem (not narrowed: calls are checked by the contract, not the compiler). */
const abiOf = (contract: CompiledContract) => contract.abi as unknown as Abi

async function deploy(contract: CompiledContract, args: readonly unknown[]): Promise<Address> {
  const hash = await walletClient.deployContract({
    abi: abiOf(contract),
    bytecode: contract.bytecode,
    args,
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
  if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error(`deployment ${hash} failed`)
  return getAddress(receipt.contractAddress)
}

beforeAll(async () => {
  const compiled = compileContracts(SOURCE, ['TestWallet1271', 'TestWallet1271Factory'])
  expect(compiled.warnings).toEqual([])
  walletContract = compiled.contracts.TestWallet1271!
  factoryContract = compiled.contracts.TestWallet1271Factory!

  chain = await startTestChain()
  publicClient = createPublicClient({ chain: foundry, transport: http(chain.rpcUrl) })
  walletClient = walletClientOf(chain.rpcUrl)
  owner = newAccount()
  // Deployed (one after the other, same key) before the server starts, so no nonce is shared with it.
  wallet = await deploy(walletContract, [owner.address])
  factory = await deploy(factoryContract, [])

  onChain = await startTestServer({ CHAIN_RPC_URL: chain.rpcUrl, DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0] })
  noChain = await startTestServer()
}, 60_000)

afterAll(async () => {
  await onChain?.stop()
  await noChain?.stop()
  await chain?.stop()
}, 30_000)

const signedBy = (account: PrivateKeyAccount) => (message: string) => account.signMessage({ message })

async function expectSignedIn(response: Response, address: Address, url: string) {
  expect(response.status).toBe(200)
  const body = (await response.json()) as SessionBody
  expect(body.user.address).toBe(address)
  // The session is real: the token authenticates as the contract's address.
  const me = await fetch(`${url}/api/me`, { headers: bearer(body.token) })
  expect(me.status).toBe(200)
  expect(((await me.json()) as { address: string }).address).toBe(address)
}

async function expectRejected(response: Response) {
  expect(response.status).toBe(401)
  expect(((await response.json()) as ErrorBody).error.code).toBe('SIWE_INVALID')
}

const isValidSignatureAbi = [
  {
    type: 'function',
    name: 'isValidSignature',
    stateMutability: 'view',
    inputs: [
      { name: 'hash', type: 'bytes32' },
      { name: 'signature', type: 'bytes' },
    ],
    outputs: [{ name: '', type: 'bytes4' }],
  },
] as const

describe('EIP-1271 (a deployed contract wallet)', () => {
  test('the test wallet itself: magic value for its owner only', async () => {
    const hash = keccak256(toHex('herald'))
    const check = (signature: Hex) =>
      publicClient.readContract({
        address: wallet,
        abi: isValidSignatureAbi,
        functionName: 'isValidSignature',
        args: [hash, signature],
      })
    expect(await check(await owner.sign({ hash }))).toBe('0x1626ba7e')
    expect(await check(await newAccount().sign({ hash }))).toBe('0xffffffff')
    expect(await check('0x1234')).toBe('0xffffffff')
  })

  test("the owner's signature signs in as the contract (EIP-55 address)", async () => {
    const { response } = await trySignInAs(onChain.url, wallet, signedBy(owner))
    await expectSignedIn(response, wallet, onChain.url)
    expect(wallet).toBe(getAddress(wallet.toLowerCase()))
  })

  test('the same contract signs in again as the same user', async () => {
    const first = (await (
      await trySignInAs(onChain.url, wallet, signedBy(owner))
    ).response.json()) as SessionBody
    const second = (await (
      await trySignInAs(onChain.url, wallet, signedBy(owner))
    ).response.json()) as SessionBody
    expect(second.user).toEqual(first.user)
  })

  test("another EOA's signature for the contract → 401 SIWE_INVALID", async () => {
    const { response } = await trySignInAs(onChain.url, wallet, signedBy(newAccount()))
    await expectRejected(response)
  })

  test("the owner's signature for an address without code → 401", async () => {
    const { response } = await trySignInAs(onChain.url, newAccount().address, signedBy(owner))
    await expectRejected(response)
  })

  test('a malformed signature for the contract → 401', async () => {
    const { response } = await trySignInAs(onChain.url, wallet, async () => '0x1234')
    await expectRejected(response)
  })

  test('EOA sign-in still works on a server with a chain', async () => {
    const account = newAccount()
    const session = await signIn(onChain.url, account)
    expect(session.user.address).toBe(account.address)
  })

  test('without a chain, the valid contract-wallet signature → 401', async () => {
    const { response } = await trySignInAs(noChain.url, wallet, signedBy(owner))
    await expectRejected(response)
  })
})

describe('EIP-6492 (a counterfactual wallet, not yet deployed)', () => {
  const factoryAbi = () => abiOf(factoryContract)

  /** A fresh owner, the address the factory would deploy its wallet at, and the factory call that would. */
  async function counterfactual() {
    const walletOwner = newAccount()
    const salt = keccak256(walletOwner.address)
    const address = getAddress(
      (await publicClient.readContract({
        address: factory,
        abi: factoryAbi(),
        functionName: 'predict',
        args: [walletOwner.address, salt],
      })) as Address,
    )
    const factoryData = encodeFunctionData({
      abi: factoryAbi(),
      functionName: 'deploy',
      args: [walletOwner.address, salt],
    })
    const wrap = (signer: PrivateKeyAccount) => async (message: string) =>
      serializeErc6492Signature({
        address: factory,
        data: factoryData,
        signature: await signer.signMessage({ message }),
      })
    return { walletOwner, salt, address, factoryData, wrap }
  }

  test("the owner's wrapped signature signs in as the predicted address; nothing gets deployed", async () => {
    const { walletOwner, address, wrap } = await counterfactual()
    expect(await publicClient.getCode({ address })).toBeUndefined()
    const { response } = await trySignInAs(onChain.url, address, wrap(walletOwner))
    await expectSignedIn(response, address, onChain.url)
    // Verification is an eth_call: the wallet is still counterfactual.
    expect(await publicClient.getCode({ address })).toBeUndefined()
  })

  test("another EOA's wrapped signature → 401", async () => {
    const { address, wrap } = await counterfactual()
    const { response } = await trySignInAs(onChain.url, address, wrap(newAccount()))
    await expectRejected(response)
  })

  test('without a chain, the valid wrapped signature → 401', async () => {
    const { walletOwner, address, wrap } = await counterfactual()
    const { response } = await trySignInAs(noChain.url, address, wrap(walletOwner))
    await expectRejected(response)
  })

  test('once the factory deploys the wallet, wrapped and plain signatures both sign in', async () => {
    const { walletOwner, address, factoryData, wrap } = await counterfactual()
    const hash = await walletClient.sendTransaction({ to: factory, data: factoryData })
    expect((await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })).status).toBe(
      'success',
    )
    expect(await publicClient.getCode({ address })).toBeDefined()
    await expectSignedIn(
      (await trySignInAs(onChain.url, address, wrap(walletOwner))).response,
      address,
      onChain.url,
    )
    await expectSignedIn(
      (await trySignInAs(onChain.url, address, signedBy(walletOwner))).response,
      address,
      onChain.url,
    )
  })
})
