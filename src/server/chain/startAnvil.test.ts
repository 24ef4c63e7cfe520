import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, http, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { ANVIL_ADDRESSES, ANVIL_KEYS, startTestChain } from '../../../test/helpers/anvil'
import { type AnvilInstance, startAnvil } from './startAnvil'

const dir = mkdtempSync(join(tmpdir(), 'herald-anvil-'))
const started: AnvilInstance[] = []
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop()))
  rmSync(dir, { recursive: true, force: true })
})

async function start(options: Parameters<typeof startAnvil>[0] = {}) {
  const begin = performance.now()
  const anvil = await startAnvil(options)
  console.log(`anvil ready on port ${anvil.port} in ${Math.round(performance.now() - begin)} ms`)
  started.push(anvil)
  return anvil
}

const clientFor = (rpcUrl: string) => createPublicClient({ transport: http(rpcUrl), pollingInterval: 50 })

describe('startAnvil', () => {
  test('answers on 127.0.0.1 with chain id 31337 and funded dev accounts', async () => {
    const anvil = await start()
    expect(anvil.rpcUrl).toBe(`http://127.0.0.1:${anvil.port}`)
    expect(anvil.chainId).toBe(31337)
    const client = clientFor(anvil.rpcUrl)
    expect(await client.getChainId()).toBe(31337)
    expect(await client.getBalance({ address: ANVIL_ADDRESSES[0] })).toBeGreaterThan(0n)
    await anvil.stop()
  })

  test('two anvils at once get different ports', async () => {
    const [a, b] = await Promise.all([start(), start()])
    expect(a.port).not.toBe(b.port)
    expect(await clientFor(a.rpcUrl).getChainId()).toBe(31337)
    expect(await clientFor(b.rpcUrl).getChainId()).toBe(31337)
    await Promise.all([a.stop(), b.stop()])
  })

  test('a state file keeps blocks and balances across a restart', async () => {
    const stateFile = join(dir, 'nested', 'dir', 'state.json')
    const recipient = privateKeyToAccount(ANVIL_KEYS[2]).address
    const first = await start({ stateFile })
    const client = clientFor(first.rpcUrl)
    const before = await client.getBalance({ address: recipient })
    const wallet = createWalletClient({
      account: privateKeyToAccount(ANVIL_KEYS[0]),
      chain: foundry,
      transport: http(first.rpcUrl),
    })
    const hash = await wallet.sendTransaction({ to: recipient, value: parseEther('1.5') })
    const receipt = await client.waitForTransactionReceipt({ hash })
    expect(receipt.status).toBe('success')
    // Not viem's cached block number: the receipt's wait may have read it just before the block was mined.
    const blockNumber = await client.getBlockNumber({ cacheTime: 0 })
    expect(blockNumber).toBeGreaterThan(0n)

    await first.stop()
    await first.stop() // idempotent
    expect(existsSync(stateFile)).toBe(true)

    const second = await start({ stateFile })
    const again = clientFor(second.rpcUrl)
    expect(await again.getBlockNumber({ cacheTime: 0 })).toBe(blockNumber)
    expect(await again.getBalance({ address: recipient })).toBe(before + parseEther('1.5'))
    expect((await again.getTransactionReceipt({ hash })).blockNumber).toBe(receipt.blockNumber)
    await second.stop()
  })

  test('chainId, blockTime and mnemonic are passed through', async () => {
    const anvil = await start({
      chainId: 1337,
      blockTime: 1,
      mnemonic:
        'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
    })
    expect(anvil.chainId).toBe(1337)
    const client = clientFor(anvil.rpcUrl)
    expect(await client.getChainId()).toBe(1337)
    // Interval mining: blocks appear without transactions.
    const deadline = Date.now() + 5_000
    while ((await client.getBlockNumber()) === 0n && Date.now() < deadline) await Bun.sleep(100)
    expect(await client.getBlockNumber()).toBeGreaterThan(0n)
    // The first account of that mnemonic, not the "test … junk" one.
    expect(
      await client.getBalance({ address: '0x9858EfFD232B4033E47d90003D41EC34EcaEda94' }),
    ).toBeGreaterThan(0n)
    expect(await client.getBalance({ address: ANVIL_ADDRESSES[0] })).toBe(0n)
    await anvil.stop()
  })

  test('reports an unexpected exit through onError, and stop() still resolves', async () => {
    const reports: Array<{ error: unknown; context: string }> = []
    const anvil = await start({ onError: (error, context) => reports.push({ error, context }) })
    process.kill(anvil.pid, 'SIGKILL')
    const deadline = Date.now() + 5_000
    while (reports.length === 0 && Date.now() < deadline) await Bun.sleep(20)
    expect(reports).toHaveLength(1)
    expect(reports[0]!.context).toContain('anvil')
    expect(String(reports[0]!.error)).toContain('SIGKILL')
    await anvil.stop()
    expect(reports).toHaveLength(1)
  })

  test('a failed start rejects with anvil output in the message', async () => {
    const stateFile = join(dir, 'corrupt.json')
    writeFileSync(stateFile, 'not json')
    const failure = await startAnvil({ stateFile }).then(
      () => null,
      (error: Error) => error,
    )
    expect(failure?.message).toContain('Could not start anvil')
    expect(failure?.message).toContain('failed to parse json')
  })

  test('the test helper starts a 31337 chain whose dev keys match ANVIL_ADDRESSES', async () => {
    const chain = await startTestChain()
    started.push(chain)
    expect(chain.chainId).toBe(31337)
    expect(ANVIL_KEYS.map((key) => privateKeyToAccount(key).address)).toEqual([...ANVIL_ADDRESSES])
    await chain.stop()
  })
})
