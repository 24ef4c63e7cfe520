import { ConfigError, serveHerald } from './index'

// Entry point for `npm start`: the library `herald/server` serving itself on HOST:PORT with the environment's
// settings (docs/protocol.md §9). Configuration errors are one sentence, not a stack trace.
try {
  const herald = await serveHerald()
  console.log(`Herald is running on ${herald.url}`)
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: closing connections and stopping`)
    // Running jobs get SHUTDOWN_TIMEOUT_SECONDS inside stop(); anything else that hangs past 15 s more
    // (a database that never answers the close) ends the process with an error, not never.
    const limitMs = (herald.config.shutdownTimeoutSeconds + 15) * 1000
    const timer = setTimeout(() => {
      console.error(`${signal}: not stopped after ${limitMs / 1000} s, exiting`)
      process.exit(1)
    }, limitMs)
    await herald.stop()
    clearTimeout(timer)
    console.log(`${signal}: stopped`)
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`Herald cannot start: ${error.message}`)
    process.exit(1)
  }
  throw error
}
