// `npm run demo -- reorg [0xRECIPIENT] [--pause-ms 3000] [--record run.json]`: a transfer through a chain
// reorganisation on the local anvil, for a dashboard to watch (docs/chain.md). It deploys a token through
// Herald (minted to a fresh sender it signs in as), then transfers some to RECIPIENT (your burner wallet's
// address on the dashboard; a fresh address when left out) and, pausing between steps:
//   1. the transfer is mined: included, 1/N confirmations;
//   2. a block is mined on top: 2/N;
//   3. anvil_reorg replaces both blocks with empty ones: the transfer is gone, reorged, and no one is told;
//   4. the same signed transaction is sent again and mined one block higher: included again, 1/N;
//   5. blocks are mined until it has N confirmations: confirmed, and one notification each side.
// It needs Herald on a local anvil with more than one confirmation: TX_BLOCK_CONFIRMATIONS_REQUIRED=3 npm start
// (with 1 a transfer is final in its own block, and no reorganisation could be shown before it is told).
// With --record, the run is written in the format scripts/chain-timeline.ts draws.
import { writeFileSync } from 'node:fs'
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  parseEther,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createHeraldClient, createHttpApi, signInWithEthereum, type Transfer } from '../src/client/sdk'
import { heraldTokenAbi } from '../src/shared/contracts/heraldTokenAbi'

export interface ReorgDemoOptions {
  url: string
  recipient?: Address
  pauseMs: number
  record?: string
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function runReorgDemo(options: ReorgDemoOptions): Promise<void> {
  const { url, pauseMs } = options
  const anonymous = createHttpApi({ url, token: () => null })
  const [config, info] = await Promise.all([anonymous.auth.config(), anonymous.chain.info()])
  if (!config.rpcUrl)
    throw new Error('Herald runs without a chain: start it with the local one (the default).')
  const N = info.requiredConfirmations
  if (N < 2)
    throw new Error(
      'Herald counts a transfer final in its own block (TX_BLOCK_CONFIRMATIONS_REQUIRED=1), so no reorganisation ' +
        'can be shown before it is told. Start it with more: TX_BLOCK_CONFIRMATIONS_REQUIRED=3 npm start',
    )
  const chain = defineChain({
    id: config.chainId,
    name: 'local',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  })
  const transport = http(config.rpcUrl)
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 100 })
  const testClient = createTestClient({ chain, transport, mode: 'anvil' })
  const anvil = (method: string, params: unknown[]) =>
    (testClient.request as unknown as (args: { method: string; params: unknown[] }) => Promise<unknown>)({
      method,
      params,
    })

  const started = Date.now()
  const events: Record<string, unknown>[] = []
  const at = () => Date.now() - started
  const say = (line: string) => console.log(`${String(at()).padStart(6)} ms  ${line}`)
  const chainStep = (label: string, block: number) => {
    events.push({ t: at(), kind: 'chain', label, block })
    say(`chain: ${label}`)
  }

  // The sender: a fresh key with gas, signed in, so its transfers' updates come to this client.
  const sender = privateKeyToAccount(generatePrivateKey())
  await testClient.setBalance({ address: sender.address, value: parseEther('10') })
  const session = await signInWithEthereum(anonymous, {
    address: sender.address,
    signMessage: (message) => sender.signMessage({ message }),
  })
  const recipient = options.recipient ?? privateKeyToAccount(generatePrivateKey()).address
  const client = createHeraldClient({ url, getToken: () => session.token })
  await new Promise<void>((resolve) => {
    const off = client.on('state', (state) => {
      if (state === 'connected') {
        off()
        resolve()
      }
    })
  })
  let txHash: Hex | null = null
  let confirmed = false
  client.on('data_update', (update) => {
    if (update.entity !== 'transfer') return
    const transfer = update.data as Transfer
    if (transfer.txHash !== txHash) return
    events.push({
      t: at(),
      kind: 'update',
      action: update.action,
      status: transfer.status,
      confirmations: transfer.confirmations,
      block: transfer.blockNumber,
    })
    const where =
      transfer.status === 'reorged' ? `was in block ${transfer.blockNumber}` : `block ${transfer.blockNumber}`
    say(`seen:  ${transfer.status} ${transfer.confirmations}/${N} (${where}), data_update ${update.action}`)
    if (transfer.status === 'confirmed') confirmed = true
  })
  client.on('notification', (n) => {
    if ((n.data as { txHash?: string } | null)?.txHash !== txHash) return
    events.push({ t: at(), kind: 'notification', type: n.type, title: n.title })
    say(`told:  ${n.type}: ${n.title}`)
  })

  // A token of the sender's, deployed through Herald: blocks are mined meanwhile so it gets its confirmations.
  say(`deploying a token for ${sender.address} (waiting for ${N} confirmations)…`)
  const { jobId } = await client.api.tokens.deploy({
    name: 'Reorg Demo',
    symbol: 'REORG',
    initialSupply: '1000',
  })
  const miner = setInterval(() => void testClient.mine({ blocks: 1 }).catch(() => {}), 300)
  let token: Address
  try {
    for (;;) {
      const job = await client.api.jobs.get(jobId)
      if (job.status === 'failed') throw new Error(`the deployment failed: ${job.error}`)
      if (job.status === 'completed') {
        token = (job.result as { address: Address }).address
        break
      }
      await sleep(300)
    }
  } finally {
    clearInterval(miner)
  }
  say(`token REORG at ${token}; transferring 25 to ${recipient}`)
  await sleep(pauseMs)

  const wallet = createWalletClient({ account: sender, chain, transport })
  txHash = await wallet.writeContract({
    address: token,
    abi: heraldTokenAbi,
    functionName: 'transfer',
    args: [recipient, 25n * 10n ** 18n],
  })
  const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash })
  const raw = (await anvil('eth_getRawTransactionByHash', [txHash])) as Hex
  const b = Number(receipt.blockNumber)
  chainStep(`transfer mined in block ${b}`, b)
  await sleep(pauseMs)
  await testClient.mine({ blocks: 1 })
  chainStep(`block ${b + 1} mined`, b + 1)
  await sleep(pauseMs)
  await anvil('anvil_reorg', [2, []])
  chainStep(`reorganisation: ${b}–${b + 1} replaced, the transfer is gone`, b + 1)
  await sleep(pauseMs)
  await anvil('eth_sendRawTransaction', [raw])
  const again = await publicClient.waitForTransactionReceipt({ hash: txHash })
  chainStep(`the same transaction mined again, in block ${again.blockNumber}`, Number(again.blockNumber))
  for (let n = 2; n <= N; n++) {
    await sleep(pauseMs)
    await testClient.mine({ blocks: 1 })
    chainStep(`block ${Number(again.blockNumber) + n - 1} mined`, Number(again.blockNumber) + n - 1)
  }
  for (let i = 0; i < 100 && !confirmed; i++) await sleep(100)
  await sleep(500)
  client.disconnect()
  if (options.record) {
    writeFileSync(options.record, `${JSON.stringify({ confirmations: N, txHash, events }, null, 2)}\n`)
    say(`recorded to ${options.record}: bun scripts/chain-timeline.ts ${options.record} timeline.svg`)
  }
  if (!confirmed)
    throw new Error('the transfer was not confirmed; is the transfer watcher running (ROLE=all)?')
}
