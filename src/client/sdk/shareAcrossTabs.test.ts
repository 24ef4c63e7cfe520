import { afterEach, describe, expect, test } from 'bun:test'
import { createHeraldClient } from './createHeraldClient'

// Which client createHeraldClient makes, with the browser's globals played by stubs: a proxy over a SharedWorker
// in a page that has one, a proxy over the leader election in a page without, its own socket when the page opts
// out, outside browsers, and with a custom WebSocket or fetch. (The real thing: web/e2e/tabs.e2e.test.ts.)

const g = globalThis as Record<string, unknown>
const saved = { window: g.window, navigator: g.navigator, SharedWorker: g.SharedWorker }
const workers: { url: string; options: unknown }[] = []
const port = { postMessage() {}, start() {}, close() {}, onmessage: null }

function browser({ sharedWorker }: { sharedWorker: boolean }) {
  g.window = {}
  Object.defineProperty(globalThis, 'navigator', {
    value: { locks: { request: () => new Promise(() => {}) } },
    configurable: true,
  })
  g.SharedWorker = sharedWorker
    ? class {
        port = port
        onerror = null
        constructor(url: URL, options: unknown) {
          workers.push({ url: String(url), options })
        }
      }
    : undefined
}

const had = { window: 'window' in g, SharedWorker: 'SharedWorker' in g }
afterEach(() => {
  workers.length = 0
  Object.defineProperty(globalThis, 'navigator', { value: saved.navigator, configurable: true })
  if (had.window) g.window = saved.window
  else delete g.window
  if (had.SharedWorker) g.SharedWorker = saved.SharedWorker
  else delete g.SharedWorker
})

const URL_ = 'http://127.0.0.1:1'

describe('shareAcrossTabs', () => {
  test('in a page with SharedWorker: the client is a proxy of the module worker', () => {
    browser({ sharedWorker: true })
    const client = createHeraldClient({ url: URL_, getToken: () => null })
    expect(workers).toHaveLength(1)
    expect(workers[0]!.url).toEndWith('/tabsWorker.ts')
    expect(workers[0]!.options).toEqual({ type: 'module', name: 'herald' })
    expect(client.state).toBe('connecting')
    client.disconnect()
    expect(client.state).toBe('idle')
  })

  test('opting out, a custom WebSocket or fetch: the page keeps its own socket', () => {
    browser({ sharedWorker: true })
    for (const options of [
      { shareAcrossTabs: false },
      { WebSocket: class {} },
      { fetch: (() => Promise.reject(new Error('offline'))) as unknown as typeof fetch },
    ]) {
      // Connecting at once: a proxy would open its worker now; the client's own socket is closed before it opens.
      const client = createHeraldClient({ url: URL_, ...options })
      client.disconnect()
    }
    expect(workers).toHaveLength(0)
    // The same page without any of them shares.
    createHeraldClient({ url: URL_ }).disconnect()
    expect(workers).toHaveLength(1)
  })

  test('in a page without SharedWorker: a proxy of the leader election (a BroadcastChannel)', () => {
    browser({ sharedWorker: false })
    const opened: string[] = []
    const Original = globalThis.BroadcastChannel
    g.BroadcastChannel = class extends Original {
      constructor(name: string) {
        super(name)
        opened.push(name)
      }
    }
    try {
      const client = createHeraldClient({ url: `${URL_}/` })
      expect(opened).toEqual([`herald:v1:${URL_}`])
      client.disconnect()
    } finally {
      g.BroadcastChannel = Original
    }
  })

  test('outside a browser (no window, no Web Locks): its own socket', () => {
    createHeraldClient({ url: URL_ }).disconnect()
    expect(workers).toHaveLength(0)
  })
})
