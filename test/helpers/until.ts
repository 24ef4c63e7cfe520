/**
 * Polls `check` until it returns something other than undefined and answers that; throws naming `what` after
 * the timeout. The one way tests wait for a condition (never a fixed sleep); for a boolean condition return
 * `cond || undefined`.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5000,
  intervalMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(intervalMs)
  }
}
