export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 } as const

/** One JSON line per event on stderr. Callers never pass tokens or keys: nothing here redacts them. */
export function createLogger(level: keyof typeof LEVELS, base: Record<string, unknown> = {}): Logger {
  const threshold = LEVELS[level]
  const write = (
    name: Exclude<keyof typeof LEVELS, 'silent'>,
    message: string,
    fields?: Record<string, unknown>,
  ) => {
    if (LEVELS[name] < threshold) return
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: name, message, ...base, ...fields })}\n`,
    )
  }
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  }
}
