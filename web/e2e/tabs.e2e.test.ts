import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, skipBrowserTests } from '../../test/helpers/browser'
import { until } from '../../test/helpers/drill'
import { metricValue } from '../../test/helpers/metrics'
import { startTestServer, type TestServer } from '../../test/helpers/testServer'
import { signIn } from '../../test/helpers/wallet'

// One socket per browser (shareAcrossTabs): three tabs of one signed-in user share ONE WebSocket, through the
// SDK's SharedWorker, and, with SharedWorker deleted before any script runs (Chrome on Android has none),
// through the tab elected leader with the Web Locks API. Each tab counts what its client delivers through the
// app's `herald:notification` DOM events.
const skip = skipBrowserTests()
const root = join(import.meta.dir, '../..')

let server: TestServer
let browser: Browser

async function ensureWebBuilt() {
  if (existsSync(join(root, 'web/dist/index.html'))) return
  const build = Bun.spawn(
    ['./node_modules/.bin/vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
    { cwd: root, stdout: 'inherit', stderr: 'inherit' },
  )
  if ((await build.exited) !== 0) throw new Error('vite build failed')
}

const seen = (page: Page) => page.evaluate(() => (window as unknown as { seen: number[] }).seen)
const connected = (page: Page) =>
  page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor({ timeout: 20_000 })

async function publish(userId: string, n: number): Promise<number> {
  const response = await server.publish({ userId, type: 'tabs', title: `Tab test ${n}`, message: `#${n}` })
  expect(response.status).toBe(201)
  return ((await response.json()) as { notification: { seq: number } }).notification.seq
}

/** Waits until `page` has delivered exactly `expected` (in that order, each once). */
async function expectDelivered(page: Page, expected: number[], what: string) {
  await until(
    `${what}: ${expected.length} notifications`,
    async () => ((await seen(page)).length >= expected.length ? true : undefined),
    15_000,
  )
  expect(await seen(page)).toEqual(expected)
}

async function openTabs(context: BrowserContext, session: object, count: number) {
  await context.addInitScript(() => {
    const w = window as unknown as { seen: number[]; arrivedAt: Record<number, number> }
    w.seen = []
    w.arrivedAt = {}
    window.addEventListener('herald:notification', (event) => {
      const { seq } = (event as CustomEvent<{ seq: number }>).detail
      w.seen.push(seq)
      w.arrivedAt[seq] = Date.now()
    })
  })
  const pages: Page[] = []
  for (let i = 0; i < count; i++) {
    const page = await context.newPage()
    await page.goto(server.url)
    if (i === 0) {
      await page.evaluate((stored) => localStorage.setItem('herald.session', stored), JSON.stringify(session))
      await page.reload()
    }
    await connected(page)
    pages.push(page)
  }
  return pages
}

async function scenario(mode: 'worker' | 'locks', handover: 'close' | 'crash' = 'close') {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
  if (mode === 'locks')
    await context.addInitScript(() => {
      delete (window as { SharedWorker?: unknown }).SharedWorker
    })
  try {
    const body = await signIn(server.url)
    const stored = {
      token: body.token,
      expiresAt: body.expiresAt,
      userId: body.user.id,
      address: body.user.address,
      wallet: { kind: 'injected', id: 'none', name: 'Test' },
    }
    const pages = await openTabs(context, stored, 3)
    const [first, second, third] = pages as [Page, Page, Page]
    expect(await first.evaluate(() => typeof SharedWorker)).toBe(mode === 'worker' ? 'function' : 'undefined')

    // One socket for the three tabs, authenticated as the user.
    await until('one connection', async () =>
      (await metricValue(server.url, 'herald_ws_connections')) === 1 ? true : undefined,
    )
    expect(await metricValue(server.url, 'herald_ws_authenticated_users')).toBe(1)
    expect(server.herald.getUserConnectionCount(body.user.id)).toBe(1)

    // 30 notifications: every tab gets each once, in order.
    const published: number[] = []
    for (let n = 1; n <= 30; n++) published.push(await publish(body.user.id, n))
    for (const page of pages) await expectDelivered(page, published, `tab ${pages.indexOf(page) + 1}`)
    expect(await metricValue(server.url, 'herald_ws_connections')).toBe(1)

    // 30 more, closing the first tab (the leader, in the Web Locks mode) after the tenth: the others lose and
    // repeat nothing, and the owner hands over within a second.
    let handedOver = 0
    for (let n = 31; n <= 60; n++) {
      published.push(await publish(body.user.id, n))
      if (n !== 40) continue
      if (handover === 'close') await first.close()
      else {
        const crashed = first.waitForEvent('crash', { timeout: 10_000 })
        // The answer never comes: the page is gone.
        void (await context.newCDPSession(first)).send('Page.crash').catch(() => {})
        await crashed
      }
      // From the moment the tab is gone to the moment the page had it (its own clock: the machine's), so the
      // time the test takes to look into the pages does not count.
      const goneAt = Date.now()
      // The next one published reaches both tabs through the new owner.
      const next = await publish(body.user.id, 41)
      published.push(next)
      n++
      await Promise.all(
        [second, third].map((page) =>
          until(
            'the first notification after the handover',
            async () => ((await seen(page)).includes(next) ? true : undefined),
            5000,
            10,
          ),
        ),
      )
      const arrivals = await Promise.all(
        [second, third].map((page) =>
          page.evaluate(
            (seq) => (window as unknown as { arrivedAt: Record<number, number> }).arrivedAt[seq]!,
            next,
          ),
        ),
      )
      handedOver = Math.max(...arrivals) - goneAt
    }
    await expectDelivered(second, published, 'tab 2 after the handover')
    await expectDelivered(third, published, 'tab 3 after the handover')
    console.log(
      `${mode}, ${handover}: the other tabs had the next notification ${Math.round(handedOver)} ms later`,
    )
    expect(handedOver).toBeLessThan(1000)
    await until('still one connection', async () =>
      (await metricValue(server.url, 'herald_ws_connections')) === 1 ? true : undefined,
    )

    // Sign-out in one tab signs out the others.
    await second.getByTestId('sign-out').click()
    await second.getByTestId('connect-burner').first().waitFor({ timeout: 10_000 })
    await third.getByTestId('session-notice').waitFor({ timeout: 10_000 })
    expect(await third.getByTestId('sign-out').count()).toBe(0)
    // Signing out closes the session's socket and opens an anonymous one: wait for the new one, not the gap.
    await until('no authenticated user, and the tabs on one anonymous connection', async () =>
      (await metricValue(server.url, 'herald_ws_authenticated_users')) === 0 &&
      (await metricValue(server.url, 'herald_ws_connections')) === 1
        ? true
        : undefined,
    )
    // A sign-in in one tab (its session saved) is taken by the tabs on the sign-in screen.
    const again = await signIn(server.url, body.account)
    await second.evaluate(
      (stored) => localStorage.setItem('herald.session', stored),
      JSON.stringify({ ...stored, token: again.token, expiresAt: again.expiresAt }),
    )
    await third.getByTestId('sign-out').waitFor({ timeout: 10_000 })
    await connected(third)
    await third.getByTestId('sign-out').click()
    await third.getByTestId('connect-burner').first().waitFor({ timeout: 10_000 })

    // Still one socket, anonymous now (it reconnects after the sign-out).
    await until('one anonymous connection', async () =>
      (await metricValue(server.url, 'herald_ws_connections')) === 1 ? true : undefined,
    )

    // The last tab closed: the socket goes with it.
    await second.close()
    await third.close()
    await until('no connection', async () =>
      (await metricValue(server.url, 'herald_ws_connections')) === 0 ? true : undefined,
    )
  } finally {
    await context.close()
  }
}

describe.skipIf(skip)('one socket for every tab of a browser', () => {
  beforeAll(async () => {
    await ensureWebBuilt()
    server = await startTestServer()
    browser = await launchBrowser()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  }, 60_000)

  test('three tabs through the SharedWorker', () => scenario('worker'), 90_000)
  test('three tabs through the leader tab (Web Locks, no SharedWorker)', () => scenario('locks'), 90_000)
  test('the leader tab crashes: another tab takes over', () => scenario('locks', 'crash'), 90_000)
})
