import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { ANVIL_KEYS, startTestChain, type TestChain } from '../../test/helpers/anvil'
import { exposeWallet, launchBrowser, skipBrowserTests } from '../../test/helpers/browser'
import { until } from '../../test/helpers/drill'
import { startTestServer, type TestServer } from '../../test/helpers/testServer'

// The inbox of docs/protocol.md §7 in Chromium, two tabs of one signed-in user: opening the bell marks
// everything seen (the badge clears in both tabs, the unread count stays), archiving one takes it out of the
// inbox and into the archive in both tabs, and the preferences list the types received. Skipped where
// Chromium is missing, except in CI (HERALD_REQUIRE_BROWSER=1).
const skip = skipBrowserTests()
const root = join(import.meta.dir, '../..')

let chain: TestChain
let server: TestServer
let browser: Browser
let context: BrowserContext
const tabs: Page[] = []
const account = privateKeyToAccount(generatePrivateKey())

const bell = (page: Page) => page.getByTestId('notification-bell')
const attribute = async (page: Page, name: string) => Number(await bell(page).getAttribute(name))
const titles = (page: Page) =>
  page.locator('[data-testid="notification-item"] .herald-item__title').allTextContents()

async function signedIn(page: Page) {
  await exposeWallet(page, { account, rpcUrl: chain.rpcUrl, chainId: 31337 })
  await page.goto(server.url)
  // A second tab may open signed in already (the session is the origin's): wait for either screen to render.
  const connect = page.getByTestId('connect-injected').first()
  await bell(page).or(connect).first().waitFor({ timeout: 20_000 })
  if (!(await bell(page).isVisible())) {
    await connect.click()
    await page.getByTestId('sign-in').click()
  }
  await bell(page).waitFor({ timeout: 20_000 })
  await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor({ timeout: 20_000 })
}

describe.skipIf(skip)('the inbox in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(join(root, 'web/dist/index.html')))
      throw new Error('build the web app first: npm run build:web')
    chain = await startTestChain()
    server = await startTestServer({ CHAIN_RPC_URL: chain.rpcUrl, DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0]! })
    browser = await launchBrowser()
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    for (let i = 0; i < 2; i++) {
      const page = await context.newPage()
      await signedIn(page)
      tabs.push(page)
    }
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await chain?.stop()
  }, 60_000)

  test('open the bell: unseen 0 in every tab, unread unchanged', async () => {
    for (const [i, type] of ['welcome', 'digest', 'welcome'].entries()) {
      const response = await server.publish({
        address: account.address,
        type,
        title: `Note ${i + 1}`,
        message: 'm',
      })
      expect(response.status).toBe(201)
    }
    for (const page of tabs) {
      await page.getByTestId('notification-badge').filter({ hasText: '3' }).waitFor({ timeout: 10_000 })
      expect(await attribute(page, 'data-unread')).toBe(3)
    }
    const [first, second] = tabs as [Page, Page]
    await bell(first).click()
    await first.getByTestId('notification-item').first().waitFor()
    for (const page of tabs) {
      await page.getByTestId('notification-badge').waitFor({ state: 'detached', timeout: 10_000 })
      expect(await attribute(page, 'data-unseen')).toBe(0)
      expect(await attribute(page, 'data-unread')).toBe(3)
    }
    expect(await first.getByTestId('notification-unread-count').textContent()).toBe('3 unread')
    await bell(second).click()
    await second.getByTestId('notification-item').first().waitFor()
  }, 60_000)

  test('archive one: gone from the inbox, present in the archive, in every tab', async () => {
    const [first, second] = tabs as [Page, Page]
    const item = first.locator('[data-testid="notification-item"]', { hasText: 'Note 2' })
    await item.getByTestId('notification-archive').click()
    for (const page of tabs) {
      await until('Note 2 to leave the inbox', async () =>
        (await titles(page)).some((t) => t.includes('Note 2')) ? undefined : true,
      )
      expect((await titles(page)).map((t) => t.replace('Unread: ', ''))).toEqual(['Note 3', 'Note 1'])
      // Archived ones are out of the counts.
      await until('unread 2', async () => ((await attribute(page, 'data-unread')) === 2 ? true : undefined))
      await page.getByTestId('notification-tab-archive').click()
      await page.getByTestId('notification-panel-archive').getByTestId('notification-item').first().waitFor()
      expect((await titles(page)).map((t) => t.replace('Unread: ', ''))).toEqual(['Note 2'])
    }
    // Back to the inbox from the archive of the second tab: the first tab's archive empties.
    await second.getByTestId('notification-unarchive').click()
    await first
      .getByTestId('notification-panel-archive')
      .getByTestId('notification-empty')
      .waitFor({ timeout: 10_000 })
    await first.getByTestId('notification-tab-inbox').click()
    await until('Note 2 back in the inbox', async () =>
      (await titles(first)).length === 3 ? true : undefined,
    )
    expect(await attribute(first, 'data-unread')).toBe(3)
  }, 60_000)

  test('a toast never covers the account card, wherever the page is scrolled', async () => {
    const [first] = tabs as [Page]
    await first.keyboard.press('Escape')
    const card = first.locator('section[aria-labelledby="account-title"]')
    const boxes = async () => {
      const toast = await first.getByTestId('toast').first().boundingBox()
      const account = await card.boundingBox()
      return { toast: toast!, account: account! }
    }
    const overlap = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
      a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
    for (const scroll of ['bottom', 'card'] as const) {
      if (scroll === 'bottom') await first.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
      else await card.scrollIntoViewIfNeeded()
      const response = await server.publish({
        address: account.address,
        type: 'welcome',
        title: `Toast ${scroll}`,
        message: 'm',
      })
      expect(response.status).toBe(201)
      await first
        .getByTestId('toast')
        .filter({ hasText: `Toast ${scroll}` })
        .waitFor({ timeout: 10_000 })
      const { toast, account: box } = await boxes()
      expect(overlap(toast, box)).toBe(false)
    }
  }, 60_000)

  test('the preferences list the types received; a change shows in the other tab', async () => {
    const [first, second] = tabs as [Page, Page]
    await first.evaluate(() => window.scrollTo(0, 0))
    if (!(await first.getByTestId('notification-panel').isVisible())) await bell(first).click()
    await first.getByTestId('notification-tab-preferences').click()
    await second.getByTestId('notification-tab-preferences').click()
    const rows = first.getByTestId('notification-preference')
    await rows.first().waitFor()
    expect(await rows.evaluateAll((all) => all.map((row) => row.getAttribute('data-type')))).toEqual([
      'digest',
      'welcome',
    ])
    await first
      .locator('[data-testid="notification-preference"][data-type="digest"]')
      .getByTestId('notification-preference-inApp')
      .click()
    const mirrored = second
      .locator('[data-testid="notification-preference"][data-type="digest"]')
      .getByTestId('notification-preference-inApp')
    await until('the other tab to follow', async () => ((await mirrored.isChecked()) ? undefined : true))
    const suppressed = await server.publish({
      address: account.address,
      type: 'digest',
      title: 'x',
      message: 'm',
    })
    expect(((await suppressed.json()) as { suppressed?: string }).suppressed).toBe('preference')
  }, 60_000)
})
