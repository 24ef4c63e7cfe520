import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import type { Address } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { ANVIL_KEYS, deployDirect, fund, startTestChain, type TestChain } from '../../test/helpers/anvil'
import { launchBrowser, openWalletPage, skipBrowserTests } from '../../test/helpers/browser'
import { sendTokenTransfer, watchContract } from '../../test/helpers/chainEvents'
import { startTestServer, type TestServer } from '../../test/helpers/testServer'

// A token's page in Debian's Chromium (docs/protocol.md §4, the web app): a visitor who is not signed in sees
// a transfer arrive live and is told the holders' room needs a holder's sign-in; two holders enter the room
// (back on the page after signing in), see each other there, and one's message appears in the other's tab; a
// signed-in wallet without the token is told why it cannot enter. Skipped where Chromium is missing, except
// in CI (HERALD_REQUIRE_BROWSER=1).
const skip = skipBrowserTests()
const root = join(import.meta.dir, '../..')
const screenshots = process.env.HERALD_UPDATE_SCREENSHOTS === '1' ? join(root, 'docs/screenshots') : null
const E18 = 10n ** 18n

let chain: TestChain
let server: TestServer
let browser: Browser
let token: Address
const alice = privateKeyToAccount(generatePrivateKey())
const bob = privateKeyToAccount(generatePrivateKey())
const carol = privateKeyToAccount(generatePrivateKey())

const pageUrl = () => `${server.url}/tokens/${token}`

/** From the token page: the room's sign-in link, the wallet, the signature, and back on the token page. */
async function signInFromTokenPage(page: Page) {
  await page.goto(pageUrl())
  await page.getByTestId('room-sign-in').click()
  await page.getByTestId('connect-injected').first().click()
  await page.getByTestId('sign-in').click()
  await page.getByTestId('token-page').waitFor({ timeout: 20_000 })
  expect(new URL(page.url()).pathname).toBe(`/tokens/${token}`)
}

describe.skipIf(skip)('the token page in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(join(root, 'web/dist/index.html')))
      throw new Error('build the web app first: npm run build:web')
    chain = await startTestChain()
    server = await startTestServer({
      CHAIN_RPC_URL: chain.rpcUrl,
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
      WATCHER_INTERVAL_MS: '200',
    })
    await fund(chain.rpcUrl, alice.address)
    token = await deployDirect(chain.rpcUrl, ANVIL_KEYS[1], {
      name: 'Room Token',
      symbol: 'ROOM',
      supply: 1000n * E18,
      recipient: alice.address,
    })
    expect((await watchContract(server.url, token, 'erc20')).status).toBe(201)
    // bob holds some too (sent before anyone looks: the page shows it from the channel's history).
    await sendTokenTransfer(chain.rpcUrl, alice, token, bob.address, 100n * E18)
    browser = await launchBrowser()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await chain?.stop()
  }, 60_000)

  test('a visitor sees a transfer arrive live, and why the holders’ room is closed to them', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const visitor = await context.newPage()
    await visitor.goto(pageUrl())
    await visitor.locator('[data-testid="token-feed"][data-state="live"]').waitFor({ timeout: 20_000 })
    await visitor.locator('[data-testid="room-locked"][data-reason="signed-out"]').waitFor()
    expect(await visitor.getByTestId('room-locked').textContent()).toContain('Sign in to enter')

    const sent = await sendTokenTransfer(chain.rpcUrl, alice, token, bob.address, 5n * E18)
    const item = visitor.locator(`[data-testid="feed-transfer"][data-tx="${sent.hash}"]`)
    await item.waitFor({ timeout: 10_000 })
    expect(await item.textContent()).toContain('5 ROOM')
    await shot(visitor, 'token-page-visitor')
    await context.close()
  }, 60_000)

  test('two holders in the room: each sees the other, and a message from one appears in the other’s tab', async () => {
    const alicePage = await openWalletPage(browser, { account: alice, rpcUrl: chain.rpcUrl, chainId: 31337 })
    const bobPage = await openWalletPage(browser, { account: bob, rpcUrl: chain.rpcUrl, chainId: 31337 })
    await signInFromTokenPage(alicePage)
    await signInFromTokenPage(bobPage)
    for (const page of [alicePage, bobPage])
      await page.locator('[data-testid="room"][data-state="live"]').waitFor({ timeout: 20_000 })
    await alicePage
      .locator(`[data-testid="room-member"][data-address="${bob.address}"]`)
      .waitFor({ timeout: 10_000 })
    await bobPage
      .locator(`[data-testid="room-member"][data-address="${alice.address}"]`)
      .waitFor({ timeout: 10_000 })

    await bobPage.getByTestId('room-input').fill('gm holders')
    await bobPage.getByTestId('room-send').click()
    const received = alicePage.locator(`[data-testid="room-message"][data-from="${bob.address}"]`)
    await received.waitFor({ timeout: 10_000 })
    expect(await received.textContent()).toContain('gm holders')
    await shot(alicePage, 'token-page-holders-room')
    await alicePage.context().close()
    await bobPage.context().close()
  }, 90_000)

  test('a signed-in wallet without the token is told why it cannot enter', async () => {
    const page = await openWalletPage(browser, { account: carol, rpcUrl: chain.rpcUrl, chainId: 31337 })
    await signInFromTokenPage(page)
    const locked = page.locator('[data-testid="room-locked"][data-reason="not-a-holder"]')
    await locked.waitFor({ timeout: 20_000 })
    expect(await locked.textContent()).toContain('Your wallet holds no ROOM')
    expect(await page.getByTestId('room').count()).toBe(0)
    await page.context().close()
  }, 60_000)
})

async function shot(target: Page, name: string) {
  if (!screenshots) return
  mkdirSync(screenshots, { recursive: true })
  await target.screenshot({ path: join(screenshots, `${name}.png`) })
}
