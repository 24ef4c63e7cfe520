/**
 * Wall-clock milliseconds with microsecond precision, comparable across processes on one machine (Bun and
 * Node alike): performance.timeOrigin is taken from the real-time clock at process start and performance.now()
 * is monotonic after it. process.hrtime is not usable across runtimes (Bun's starts at process start).
 */
export const now = (): number => performance.timeOrigin + performance.now()

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Lets the event loop run (I/O, timers) between two bursts of sends. */
export const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve))
