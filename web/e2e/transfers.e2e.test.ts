import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  ANVIL_KEYS,
  anvilRpc,
  deployDirect,
  fund,
  mine,
  reorg,
  startTestChain,
  type TestChain,
} from '../../test/helpers/anvil'
import { exposeWallet, launchBrowser, skipBrowserTests } from '../../test/helpers/browser'
import { sendTokenTransfer, watchContract, watcherAtHead } from '../../test/helpers/chainEvents'
import { startTestServer, type TestServer } from '../../test/helpers/testServer'

// The dashboard's transfers list through a reorganisation, in Debian's Chromium: a transfer to the signed-in
// wallet shows as included 1/2, reorged when its block is replaced, included again when the same transaction
// is mined at another height, then confirmed, with one notification. Skipped where Chromium is missing, except
// in CI (HERALD_REQUIRE_BROWSER=1).
const skip = skipBrowserTests()
const root = join(import.meta.dir, '../..')
const screenshots = process.env.HERALD_UPDATE_SCREENSHOTS === '1' ? join(root, 'docs/screenshots') : null

let chain: TestChain
let server: TestServer
let browser: Browser
let page: Page
const account = privateKeyToAccount(generatePrivateKey())
const sender = privateKeyToAccount(generatePrivateKey())

describe.skipIf(skip)('the transfers list in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(join(root, 'web/dist/index.html')))
      throw new Error('build the web app first: npm run build:web')
    chain = await startTestChain()
    server = await startTestServer({
      CHAIN_RPC_URL: chain.rpcUrl,
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
      TX_BLOCK_CONFIRMATIONS_REQUIRED: '2',
      WATCHER_INTERVAL_MS: '200',
    })
    browser = await launchBrowser()
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    await exposeWallet(page, { account, rpcUrl: chain.rpcUrl, chainId: 31337 })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await chain?.stop()
  }, 60_000)

  test('included 1/2 → reorged → included again at another height → confirmed, told once', async () => {
    await fund(chain.rpcUrl, sender.address)
    const token = await deployDirect(chain.rpcUrl, ANVIL_KEYS[1], {
      name: 'Shown Token',
      symbol: 'SHOW',
      supply: 1000n * 10n ** 18n,
      recipient: sender.address,
    })
    expect((await watchContract(server.url, token, 'erc20')).status).toBe(201)

    await page.goto(server.url)
    await page.getByTestId('connect-injected').first().click()
    await page.getByTestId('sign-in').click()
    await page
      .locator('[data-testid="connection-state"][data-state="connected"]')
      .waitFor({ timeout: 20_000 })
    await page.getByTestId('transfer-list-empty').waitFor({ timeout: 10_000 })

    const sent = await sendTokenTransfer(chain.rpcUrl, sender, token, account.address, 25n * 10n ** 18n)
    const item = page.locator(`[data-testid="transfer-item"][data-tx="${sent.hash}"]`)
    const status = async () => ({
      status: await item.getAttribute('data-status'),
      text: (await item.getByTestId('transfer-status').textContent())?.trim(),
    })
    await item.and(page.locator('[data-status="included"]')).waitFor({ timeout: 10_000 })
    expect(await status()).toEqual({ status: 'included', text: '1/2 confirmations' })
    // The amount shows once the token's symbol and decimals are read from the chain ("…" until then).
    await item.filter({ hasText: 'Received 25 SHOW' }).waitFor({ timeout: 10_000 })
    await shot(page, 'transfer-included')

    // Its block is replaced by an empty one: the transaction is gone from the chain.
    await reorg(chain.rpcUrl, 1)
    await item.and(page.locator('[data-status="reorged"]')).waitFor({ timeout: 10_000 })
    expect(await status()).toEqual({ status: 'reorged', text: 'reorged' })
    await shot(page, 'transfer-reorged')

    // The same signed transaction, mined again one block higher.
    await mine(chain.rpcUrl, 1)
    await anvilRpc(chain.rpcUrl, 'eth_sendRawTransaction', [sent.raw])
    await item.and(page.locator('[data-status="included"]')).waitFor({ timeout: 10_000 })
    expect(await status()).toEqual({ status: 'included', text: '1/2 confirmations' })
    await mine(chain.rpcUrl, 1)
    await item.and(page.locator('[data-status="confirmed"]')).waitFor({ timeout: 10_000 })
    expect(await status()).toEqual({ status: 'confirmed', text: 'confirmed' })
    await watcherAtHead(server.database.db, chain.rpcUrl)
    await page.getByTestId('notification-badge').filter({ hasText: '1' }).waitFor({ timeout: 10_000 })
    await page.getByTestId('notification-bell').click()
    await page
      .locator('[data-testid="notification-item"][data-type="token_transfer_received"]')
      .waitFor({ timeout: 10_000 })
    expect(await page.getByTestId('notification-item').count()).toBe(1)
    await page.keyboard.press('Escape')
    expect(await page.getByTestId('transfer-item').count()).toBe(1)
    await shot(page, 'transfer-confirmed')
  }, 90_000)
})

async function shot(target: Page, name: string) {
  if (!screenshots) return
  mkdirSync(screenshots, { recursive: true })
  await target.screenshot({ path: join(screenshots, `${name}.png`) })
}
