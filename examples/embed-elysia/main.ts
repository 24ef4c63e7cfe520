import { createShop } from './app'

// `bun examples/embed-elysia/main.ts`: the shop on PORT (default 3000), Herald inside it. Settings come from the
// environment, as Herald's own (DATA_DIR, DATABASE_URL, HERALD_ADMIN_KEY, …); SIWE_DOMAINS defaults to the
// shop's own address here.
const port = Number(process.env.PORT ?? 3000)
const { app, herald } = createShop({
  SIWE_DOMAINS: `localhost:${port}`,
  ...process.env,
})
await herald.start()
app.listen({ hostname: process.env.HOST ?? '127.0.0.1', port })
console.log(`Shop listening on http://${app.server!.hostname}:${app.server!.port}`)

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.on(signal, async () => {
    if (stopping) return
    stopping = true
    await herald.stop()
    await app.stop(true)
    process.exit(0)
  })
