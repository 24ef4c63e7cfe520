import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { parseUnits } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { balancesOf, recipients } from '../../test/helpers/airdrop'
import { ANVIL_KEYS, fund, startTestChain, type TestChain } from '../../test/helpers/anvil'
import { exposeWallet, launchBrowser, skipBrowserTests } from '../../test/helpers/browser'
import { startTestServer, type TestServer } from '../../test/helpers/testServer'

// The airdrop form in Debian's Chromium: deploy a token, approve Herald for the total with the injected
// wallet, watch the job's progress bar fill and one result per recipient; every recipient holds its amount.
const skip = skipBrowserTests()
const root = join(import.meta.dir, '../..')

let chain: TestChain
let server: TestServer
let browser: Browser
let page: Page
const account = privateKeyToAccount(generatePrivateKey())

describe.skipIf(skip)('the airdrop form in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(join(root, 'web/dist/index.html')))
      throw new Error('build the web app first: npm run build:web')
    chain = await startTestChain()
    server = await startTestServer({ CHAIN_RPC_URL: chain.rpcUrl, DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0] })
    browser = await launchBrowser()
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    await exposeWallet(page, { account, rpcUrl: chain.rpcUrl, chainId: 31337 })
    await fund(chain.rpcUrl, account.address)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await chain?.stop()
  }, 60_000)

  test('deploy, then airdrop to five addresses: a live bar, a result each, each balance its amount', async () => {
    await page.goto(server.url)
    await page.getByTestId('connect-injected').first().click()
    await page.getByTestId('sign-in').click()
    await page
      .locator('[data-testid="connection-state"][data-state="connected"]')
      .waitFor({ timeout: 20_000 })
    await page.locator('[data-testid="deploy-form"] [name="name"]').fill('Drop Token')
    await page.locator('[data-testid="deploy-form"] [name="symbol"]').fill('DRP')
    await page.locator('[data-testid="deploy-form"] [name="initialSupply"]').fill('1000')
    await page.getByTestId('deploy-submit').click()
    const token = page.locator('[data-testid="token-item"][data-symbol="DRP"]')
    await token.waitFor({ timeout: 30_000 })
    const address = (await token.getAttribute('data-address')) as `0x${string}`

    const list = recipients(5)
    await token.getByTestId('airdrop-open').click()
    await token.getByTestId('airdrop-list').fill(list.map((r) => `${r.address}, ${r.amount}`).join('\n'))
    await token.getByTestId('airdrop-submit').click()
    const job = token.getByTestId('airdrop-job')
    await token.locator('[data-testid="airdrop-job"][data-status="completed"]').waitFor({ timeout: 30_000 })
    expect(await job.getByTestId('airdrop-progress').getAttribute('value')).toBe('5')
    expect(await job.getByTestId('airdrop-results').locator('li[data-status="success"]').count()).toBe(5)
    const balances = await balancesOf(
      chain.rpcUrl,
      address,
      list.map((r) => r.address),
    )
    expect(balances).toEqual(list.map((r) => parseUnits(r.amount, 18)))
  }, 90_000)
})
