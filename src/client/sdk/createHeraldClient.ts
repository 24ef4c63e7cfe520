import { createDirectClient } from './directClient'
import { createTabsMember } from './tabsMember'
import { canShareTabs, leaderLink, sharedWorkerLink } from './tabsTransport'
import type { HeraldClient, HeraldClientOptions } from './types'

export type { ConnectionState, HeraldClient, HeraldClientEvents, HeraldClientOptions } from './types'

/**
 * A framework-free Herald client for browsers, Bun and Node (directClient.ts does the work: reconnects,
 * authentication, token refresh, resume from the last seq).
 *
 * In a browser page it shares one socket with every other tab of the origin (`shareAcrossTabs`, default on):
 * a SharedWorker owns the socket where the browser has one, otherwise the tab elected with the Web Locks API,
 * talking to the others over a BroadcastChannel (Chrome on Android). This client is then a proxy with the same
 * API and events (tabsMember.ts). A custom `WebSocket` or `fetch` cannot cross to another tab or worker: with
 * either, the client keeps its own socket.
 */
export function createHeraldClient(options: HeraldClientOptions): HeraldClient {
  if (options.shareAcrossTabs === false || options.WebSocket || options.fetch || !canShareTabs())
    return createDirectClient(options)
  const url = options.url.replace(/\/+$/, '')
  return createTabsMember(options, () =>
    typeof SharedWorker === 'function'
      ? sharedWorkerLink(
          url,
          () =>
            new SharedWorker(new URL('./tabsWorker.ts', import.meta.url), {
              type: 'module',
              name: 'herald',
            }),
        )
      : leaderLink(url),
  )
}
