// A tiny Node program using the SDK, bundled by createHeraldClient.test.ts with `bun build --target=node` and
// run with `node`: it connects (HERALD_URL, HERALD_TOKEN), prints {"ready":true} once connected, prints the
// first notification and disconnects; the process must then exit by itself (no timer or socket left behind).
// HERALD_WS=ws passes the `ws` package as the WebSocket (Node 20); otherwise the global WebSocket is used.
import { createHeraldClient } from './index.ts'

const WebSocketImpl = process.env.HERALD_WS === 'ws' ? (await import('ws')).default : undefined
const timeout = setTimeout(() => {
  console.error('timed out waiting for a notification')
  process.exit(2)
}, 20_000)

const client = createHeraldClient({
  url: process.env.HERALD_URL,
  getToken: () => process.env.HERALD_TOKEN ?? null,
  WebSocket: WebSocketImpl,
  minReconnectDelayMs: 50,
  maxReconnectDelayMs: 500,
})
client.on('state', (state) => {
  if (state === 'connected') console.log(JSON.stringify({ ready: true, userId: client.userId }))
})
client.on('notification', (notification) => {
  console.log(JSON.stringify({ notification, node: process.versions.node }))
  clearTimeout(timeout)
  client.disconnect()
})
