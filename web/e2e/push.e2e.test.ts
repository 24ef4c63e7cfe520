import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createECDH } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { sqlRunner } from '../../src/server/db/sqlRunner'
import { launchBrowser, skipBrowserTests } from '../../test/helpers/browser'
import { until } from '../../test/helpers/drill'
import { startTestServer, type TestServer } from '../../test/helpers/testServer'
import { signIn } from '../../test/helpers/wallet'

// The web app's side of Web Push in Chromium: the service worker registers (served as a script from /sw.js),
// "Notify me when I'm away" calls PushManager.subscribe with Herald's VAPID key, and the subscription reaches
// the server. This machine cannot reach a real push service (Chromium's goes to Google's servers), so
// PushManager.subscribe is replaced by an init script that records its options and answers a subscription on
// fcm.googleapis.com: the test goes as far as that call and the server's stored row, not to a delivered push.
// The service worker's own push handler is driven through the DevTools protocol (ServiceWorker.deliverPushMessage).
const skip = skipBrowserTests()
const root = join(import.meta.dir, '../..')

let server: TestServer
let browser: Browser
let context: BrowserContext
let page: Page

// A real point on P-256, as a browser's subscription would carry (the server checks it).
const P256DH = (() => {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  return ecdh.getPublicKey().toString('base64url')
})()

const STUB = `
(() => {
  const state = { calls: [], subscription: null }
  window.__pushStub = state
  const p256dh = '${P256DH}'
  const toBase64Url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '')
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey)
    state.calls.push({ userVisibleOnly: options.userVisibleOnly, applicationServerKey: toBase64Url(key) })
    const endpoint = 'https://fcm.googleapis.com/fcm/send/herald-e2e'
    state.subscription = {
      endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: key.buffer },
      toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth: 'AAAAAAAAAAAAAAAAAAAAAA' } }),
      unsubscribe: async () => { state.subscription = null; return true },
    }
    return state.subscription
  }
  PushManager.prototype.getSubscription = async function () { return state.subscription }
})()
`

describe.skipIf(skip)('Web Push in the web app (Chromium)', () => {
  beforeAll(async () => {
    if (!existsSync(join(root, 'web/dist/sw.js')))
      throw new Error('web/dist/sw.js is missing: npm run build:web')
    // Development generates the VAPID keys into DATA_DIR, as a newcomer's first start does.
    server = await startTestServer({ NODE_ENV: 'development' })
    browser = await launchBrowser()
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
    await context.grantPermissions(['notifications'], { origin: server.url })
    await context.addInitScript(STUB)
    // Signed in over HTTP; the app finds the session where it keeps it.
    const session = await signIn(server.url)
    const stored = {
      token: session.token,
      expiresAt: session.expiresAt,
      userId: session.user.id,
      address: session.user.address,
      wallet: { kind: 'injected', id: 'e2e', name: 'Test wallet' },
    }
    await context.addInitScript(
      `localStorage.setItem('herald.session', ${JSON.stringify(JSON.stringify(stored))})`,
    )
    page = await context.newPage()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  }, 30_000)

  test('the service worker is served as a script and registers', async () => {
    const sw = await fetch(`${server.url}/sw.js`)
    expect(sw.status).toBe(200)
    expect(sw.headers.get('content-type')).toStartWith('text/javascript')
    await page.goto(server.url)
    const scriptURL = await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL)
    expect(scriptURL).toBe(`${server.url}/sw.js`)
  })

  test('"Notify me when I\'m away" subscribes with Herald\'s VAPID key and stores the subscription', async () => {
    const { key } = (await (await fetch(`${server.url}/api/push/vapid-public-key`)).json()) as { key: string }
    const toggle = page.getByTestId('push-toggle')
    await expect(toggle.getAttribute('aria-checked')).resolves.toBe('false')
    await toggle.click()
    await until('the switch to turn on', async () =>
      (await toggle.getAttribute('aria-checked')) === 'true' ? true : undefined,
    )
    const calls = await page.evaluate(
      () => (window as unknown as { __pushStub: { calls: unknown[] } }).__pushStub.calls,
    )
    expect(calls).toEqual([{ userVisibleOnly: true, applicationServerKey: key }])
    const rows = await sqlRunner(server.database.db).query<{ endpoint: string }>(
      'select endpoint from push_subscriptions',
      [],
    )
    expect(rows.map((row) => row.endpoint)).toEqual(['https://fcm.googleapis.com/fcm/send/herald-e2e'])
    // Off again: gone at the server too.
    await toggle.click()
    await until('the subscription to be removed', async () =>
      (await sqlRunner(server.database.db).query('select 1 from push_subscriptions', [])).length === 0
        ? true
        : undefined,
    )
  })

  test("signing out removes this browser's subscription, here and at the server", async () => {
    const toggle = page.getByTestId('push-toggle')
    await toggle.click()
    await until('the subscription to be stored', async () =>
      (await sqlRunner(server.database.db).query('select 1 from push_subscriptions', [])).length === 1
        ? true
        : undefined,
    )
    await page.getByTestId('sign-out').click()
    await until('the subscription to be removed', async () =>
      (await sqlRunner(server.database.db).query('select 1 from push_subscriptions', [])).length === 0
        ? true
        : undefined,
    )
    // The browser's own unsubscribe follows the server's removal (sign-out tells the server first), so it is
    // waited for too rather than read at once.
    const left = await until('the browser to unsubscribe', async () => {
      const subscription = await page.evaluate(
        () => (window as unknown as { __pushStub: { subscription: unknown } }).__pushStub.subscription,
      )
      return subscription === null ? subscription : undefined
    })
    expect(left).toBeNull()
  })

  test('a push shows a notification from the service worker', async () => {
    const cdp = await context.newCDPSession(page)
    // Listening before enabling: enabling reports the registrations that exist.
    const registered = new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => {
        const found = event.registrations.find((r) => r.scopeURL === `${server.url}/` && !r.isDeleted)
        if (found) resolve(found.registrationId)
      })
    })
    await cdp.send('ServiceWorker.enable')
    const registrationId = await registered
    // A push reaches only an active worker: `ready` resolves once the registration has one (on a busy
    // machine the worker may still be installing when the registration is reported).
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
    const payload = { id: '7', seq: 3, type: 'token_deployed', title: 'Deployed', message: 'HRLD is live' }
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: server.url,
      registrationId,
      data: JSON.stringify(payload),
    })
    const shown = await until(
      'the notification',
      () =>
        page.evaluate(async () => {
          const registration = await navigator.serviceWorker.ready
          const [first] = await registration.getNotifications()
          return first ? { title: first.title, body: first.body, tag: first.tag } : undefined
        }),
      20_000,
    )
    expect(shown).toEqual({ title: 'Deployed', body: 'HRLD is live', tag: 'herald-7' })
  })
})
