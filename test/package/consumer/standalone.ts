// `npm start`'s mode from the packed package, under Bun: Herald serving itself on HOST:PORT (the web app, the
// default SIWE domains), its settings from the environment. Copied into the temporary project of
// test/package/herald.pack.long.test.ts; prints "Herald is running on <url>" once ready, stops on SIGTERM.
import { serveHerald } from 'herald/server'

const herald = await serveHerald()
console.log(`Herald is running on ${herald.url}`)
process.on('SIGTERM', async () => {
  await herald.stop()
  process.exit(0)
})
