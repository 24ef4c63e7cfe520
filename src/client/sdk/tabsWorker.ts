import { createDirectClient } from './directClient'
import { createTabsHub, type TabsHub } from './tabsHub'
import type { FromHub, ToHub } from './tabsProtocol'
import { watchMember } from './tabsTransport'

// The SharedWorker that owns the socket of every tab of an origin (shareAcrossTabs). The web app's build
// bundles it (`new SharedWorker(new URL('./tabsWorker.ts', import.meta.url), { type: 'module' })` in
// createHeraldClient.ts); each tab's client talks to it through its own port.

const hubs = new Map<string, TabsHub>()
const known = new Set<string>()

const scope = self as unknown as { onconnect: ((event: MessageEvent) => void) | null }
scope.onconnect = (event) => {
  const port = event.ports[0]
  if (!port) return
  port.onmessage = ({ data }: MessageEvent<{ url: string; from: string; body: ToHub }>) => {
    const { url, from, body } = data
    let hub = hubs.get(url)
    if (!hub) {
      hub = createTabsHub({ url, createClient: createDirectClient })
      hubs.set(url, hub)
    }
    if (body.type === 'join') watchMember(hub, url, from, known)
    hub.receive(from, body, (message: FromHub) => port.postMessage(message))
  }
  port.start()
}
