import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { count } from 'drizzle-orm'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { jobs } from '../../src/server/db/schema'
import { ANVIL_KEYS, startTestChain, type TestChain } from '../../test/helpers/anvil'
import { exposeWallet, launchBrowser, skipBrowserTests } from '../../test/helpers/browser'
import { startTestServer, type TestServer } from '../../test/helpers/testServer'

// End to end in Debian's Chromium: the built web app served by a real Herald, a real anvil, and a test wallet
// (an injected EIP-1193 provider answered by a viem private-key account). Skipped where Chromium is missing,
// except in CI, which requires it (HERALD_REQUIRE_BROWSER=1).
const skip = skipBrowserTests()
const root = join(import.meta.dir, '../..')
const screenshots = process.env.HERALD_UPDATE_SCREENSHOTS === '1' ? join(root, 'docs/screenshots') : null

let chain: TestChain
let server: TestServer
let browser: Browser
let context: BrowserContext
let page: Page
let port: number
const account = privateKeyToAccount(generatePrivateKey())

const env = () => ({
  CHAIN_RPC_URL: chain.rpcUrl,
  DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0]!,
  PORT: String(port),
})

async function ensureWebBuilt() {
  if (existsSync(join(root, 'web/dist/index.html'))) return
  const build = Bun.spawn(
    ['./node_modules/.bin/vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
    {
      cwd: root,
      stdout: 'inherit',
      stderr: 'inherit',
    },
  )
  if ((await build.exited) !== 0) throw new Error('vite build failed')
}

async function shot(target: Page, name: string) {
  if (!screenshots) return
  mkdirSync(screenshots, { recursive: true })
  await target.screenshot({ path: join(screenshots, `${name}.png`) })
}

const badge = (target: Page) => target.getByTestId('notification-badge')

describe.skipIf(skip)('the Herald web app in Chromium', () => {
  beforeAll(async () => {
    await ensureWebBuilt()
    chain = await startTestChain()
    // A first start on port 0 finds a free port; the server then lives on it, so it can restart on the same one.
    const probe = await startTestServer({ LOCAL_CHAIN: 'false' })
    port = probe.herald.port
    await probe.stop()
    server = await startTestServer(env(), { keepDatabase: true })
    browser = await launchBrowser()
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    page = await context.newPage()
    await exposeWallet(page, { account, rpcUrl: chain.rpcUrl, chainId: 31337 })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await server?.database.close()
    await chain?.stop()
  }, 60_000)

  test('sign in with the injected wallet', async () => {
    await page.goto(server.url)
    await page.getByTestId('connect-injected').first().click()
    await shot(page, 'sign-in')
    await page.getByTestId('sign-in').click()
    await page.getByTestId('notification-bell').waitFor({ timeout: 20_000 })
    await page
      .locator('[data-testid="connection-state"][data-state="connected"]')
      .waitFor({ timeout: 20_000 })
  }, 60_000)

  test('a notification published through the admin API appears live with the badge count', async () => {
    expect(await badge(page).count()).toBe(0)
    const response = await server.publish({
      address: account.address,
      type: 'welcome',
      title: 'Welcome to Herald',
      message: 'Published through the admin API',
    })
    expect(response.status).toBe(201)
    await badge(page).waitFor({ timeout: 10_000 })
    expect(await badge(page).textContent()).toBe('1')
    await page.getByTestId('toast').first().waitFor({ timeout: 10_000 })
    expect(await page.getByTestId('toast').first().textContent()).toContain('Welcome to Herald')
  }, 30_000)

  test('mark-as-read in one tab clears it in a second tab, and a reload keeps the read state', async () => {
    const second = await context.newPage()
    await exposeWallet(second, { account, rpcUrl: chain.rpcUrl, chainId: 31337 })
    await second.goto(server.url)
    await badge(second).waitFor({ timeout: 20_000 })
    expect(await badge(second).textContent()).toBe('1')

    await page.getByTestId('notification-bell').click()
    const item = page.getByTestId('notification-item').first()
    await item.waitFor()
    await shot(page, 'notification-center')
    await item.getByTestId('notification-mark-read').click()

    await badge(page).waitFor({ state: 'detached', timeout: 10_000 })
    await badge(second).waitFor({ state: 'detached', timeout: 10_000 })
    await second.reload()
    await second.getByTestId('notification-bell').waitFor({ timeout: 20_000 })
    // Give the inbox time to load: the badge must stay away because the read state is on the server.
    await second
      .locator('[data-testid="connection-state"][data-state="connected"]')
      .waitFor({ timeout: 20_000 })
    await Bun.sleep(500)
    expect(await badge(second).count()).toBe(0)
    await second.close()
    await page.keyboard.press('Escape')
  }, 60_000)

  test('deploy a token and watch started → pending → success, then see it in the list', async () => {
    await page.locator('[data-testid="deploy-form"] [name="name"]').fill('Browser Token')
    await page.locator('[data-testid="deploy-form"] [name="symbol"]').fill('browser7')
    await page.locator('[data-testid="deploy-form"] [name="initialSupply"]').fill('2500')
    await page.getByTestId('deploy-submit').click()
    const progress = page.getByTestId('job-progress').first()
    await progress.waitFor({ timeout: 10_000 })
    await progress
      .getByTestId('job-status')
      .filter({ hasText: /completed/i })
      .waitFor({ timeout: 30_000 })
    const states = await progress
      .getByTestId('job-step')
      .evaluateAll((steps) =>
        steps.map((s) => `${s.getAttribute('data-step')}:${s.getAttribute('data-state')}`),
      )
    expect(states.length).toBeGreaterThanOrEqual(3)
    expect(states.every((s) => s.endsWith(':done'))).toBe(true)
    expect(await progress.getByTestId('job-tx-hash').getAttribute('title')).toMatch(/^0x[0-9a-f]{64}$/)
    const token = page.locator('[data-testid="token-item"][data-symbol="BROWSER7"]')
    await token.waitFor({ timeout: 10_000 })
    // The avatar shows the whole symbol, not the first letters of the name or of the symbol.
    expect(await token.getByTestId('token-avatar').textContent()).toBe('BROWSER7')
    await shot(page, 'dashboard')
    // The three deployment notifications arrived live too.
    const types = await (async () => {
      await page.getByTestId('notification-bell').click()
      await page.locator('[data-testid="notification-item"][data-type="token_deployment_success"]').waitFor()
      return page
        .getByTestId('notification-item')
        .evaluateAll((items) => items.map((item) => item.getAttribute('data-type')))
    })()
    expect(types).toEqual(
      expect.arrayContaining([
        'token_deployment_started',
        'token_deployment_pending',
        'token_deployment_success',
      ]),
    )
    await page.keyboard.press('Escape')
  }, 90_000)

  test('a form submitted twice before it re-renders sends one Idempotency-Key and deploys once', async () => {
    const keys: (string | null)[] = []
    const listen = (request: { url(): string; method(): string; headers(): Record<string, string> }) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/tokens')
        keys.push(request.headers()['idempotency-key'] ?? null)
    }
    page.on('request', listen)
    const before = (await server.database.db.select({ n: count() }).from(jobs))[0]!.n
    await page.locator('[data-testid="deploy-form"] [name="name"]').fill('Twice Token')
    await page.locator('[data-testid="deploy-form"] [name="symbol"]').fill('TWICE')
    await page.locator('[data-testid="deploy-form"] [name="initialSupply"]').fill('7')
    // Two submits in one task: React has not re-rendered in between, so the form's "sending" guard cannot
    // stop the second one (what a fast double click or a double Enter can do); the key must.
    await page.getByTestId('deploy-form').evaluate((form) => {
      ;(form as HTMLFormElement).requestSubmit()
      ;(form as HTMLFormElement).requestSubmit()
    })
    await page.locator('[data-testid="token-item"][data-symbol="TWICE"]').waitFor({ timeout: 30_000 })
    page.off('request', listen)
    expect(keys).toHaveLength(2)
    expect(keys[0]).toMatch(/^[0-9a-f]{32}$/)
    expect(keys[1]).toBe(keys[0])
    expect((await server.database.db.select({ n: count() }).from(jobs))[0]!.n).toBe(before + 1)
    expect(await page.locator('[data-testid="token-item"][data-symbol="TWICE"]').count()).toBe(1)
  }, 60_000)

  test('the page reconnects and catches up after the server restarts', async () => {
    const before = Number((await badge(page).textContent()) ?? '0')
    await server.stop()
    await page
      .locator('[data-testid="connection-state"]:not([data-state="connected"])')
      .waitFor({ timeout: 15_000 })
    // Published while this server is down, by another instance on the same database.
    const other = await startTestServer(
      { LOCAL_CHAIN: 'false', PORT: '0' },
      { database: server.database, keepDatabase: true },
    )
    expect(
      (
        await other.publish({
          address: account.address,
          type: 'missed',
          title: 'While you were away',
          message: 'x',
        })
      ).status,
    ).toBe(201)
    await other.stop()
    server = await startTestServer(env(), { database: server.database, keepDatabase: true })
    await page
      .locator('[data-testid="connection-state"][data-state="connected"]')
      .waitFor({ timeout: 30_000 })
    await badge(page)
      .filter({ hasText: String(before + 1) })
      .waitFor({ timeout: 15_000 })
    await page.getByTestId('notification-bell').click()
    await page.locator('[data-testid="notification-item"][data-type="missed"]').waitFor({ timeout: 10_000 })
    expect(await page.locator('[data-testid="notification-item"][data-type="missed"]').count()).toBe(1)
  }, 90_000)

  test('a newcomer without a wallet extension uses the burner wallet, signs in and deploys', async () => {
    const fresh = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const phone = await fresh.newPage()
    await phone.goto(server.url)
    expect(await phone.getByTestId('connect-injected').count()).toBe(0)
    await phone.getByTestId('connect-burner').click()
    await phone.getByTestId('sign-in').click()
    await phone
      .locator('[data-testid="connection-state"][data-state="connected"]')
      .waitFor({ timeout: 20_000 })
    await phone.locator('[data-testid="deploy-form"] [name="name"]').fill('Burner Token')
    await phone.locator('[data-testid="deploy-form"] [name="symbol"]').fill('BURN')
    await phone.locator('[data-testid="deploy-form"] [name="initialSupply"]').fill('10')
    await phone.getByTestId('deploy-submit').click()
    await phone
      .getByTestId('job-progress')
      .first()
      .getByTestId('job-status')
      .filter({ hasText: /completed/i })
      .waitFor({ timeout: 30_000 })
    await phone.locator('[data-testid="token-item"][data-symbol="BURN"]').waitFor({ timeout: 10_000 })
    await shot(phone, 'phone')
    await fresh.close()
  }, 90_000)
})
