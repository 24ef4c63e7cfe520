// The SDK (herald/client) in the consumer project, the same file under Bun and under Node 20
// with the `ws` package: connects with HERALD_TOKEN, prints {"ready":true}, then prints every notification and
// the final job_status; exits once it has seen KIND=notification's first one, or with KIND=job a completed job.
import { createHeraldClient } from 'herald/client'

const WebSocketImpl = typeof WebSocket === 'function' ? undefined : (await import('ws')).default
const timeout = setTimeout(() => {
  console.error('timed out')
  process.exit(2)
}, 30_000)
const waitFor = process.env.KIND ?? 'notification'
const client = createHeraldClient({
  url: process.env.HERALD_URL,
  getToken: () => process.env.HERALD_TOKEN ?? null,
  WebSocket: WebSocketImpl,
})
const done = () => {
  clearTimeout(timeout)
  client.disconnect()
}
client.on('state', (state) => {
  if (state === 'connected') console.log(JSON.stringify({ ready: true }))
})
client.on('notification', (notification) => {
  console.log(JSON.stringify({ notification }))
  if (waitFor === 'notification') done()
})
client.on('job_status', (message) => {
  if (message.progress) console.log(JSON.stringify({ progress: message.progress.done }))
  if (message.status === 'completed') {
    console.log(JSON.stringify({ completed: message.jobId }))
    if (waitFor === 'job') done()
  }
})
