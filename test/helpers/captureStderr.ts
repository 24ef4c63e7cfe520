/**
 * Runs `run` with process.stderr captured, where the server's logger writes its JSON lines, and restores it
 * whatever happens. What was written comes back instead of reaching the test's output.
 */
export async function captureStderr<T>(run: () => Promise<T>): Promise<{ result: T; written: string }> {
  const chunks: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk))
    return true
  }) as typeof process.stderr.write
  try {
    const result = await run()
    return { result, written: chunks.join('') }
  } finally {
    process.stderr.write = write
  }
}
