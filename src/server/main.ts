import { startHerald } from './app'
import { loadConfig } from './config/loadConfig'
import { ConfigError } from './errors'

// Entry point for `npm start`: configuration errors are one sentence, not a stack trace.
try {
  const config = loadConfig()
  const herald = await startHerald(config)
  console.log(`Herald is running on ${herald.url}`)
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: closing connections and stopping`)
    const timer = setTimeout(() => process.exit(1), 15_000)
    await herald.stop()
    clearTimeout(timer)
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
