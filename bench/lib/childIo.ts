import { createInterface } from 'node:readline'

/**
 * The child side of the bench's control channel, for Bun and Node alike: commands arrive on stdin as JSON
 * lines `{"id": n, "cmd": "...", ...}`, answers and events leave on stdout as lines starting with `@@`, so
 * anything else a child prints (a library's warning) is not mistaken for a reply.
 */
export type Handler = (args: Record<string, unknown>) => unknown

export function emit(message: Record<string, unknown>): void {
  process.stdout.write(`@@${JSON.stringify(message)}\n`)
}

export function serveCommands(handlers: Record<string, Handler>): void {
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (!line.trim()) return
    let request: { id: number; cmd: string; [key: string]: unknown }
    try {
      request = JSON.parse(line)
    } catch {
      return
    }
    const handler = handlers[request.cmd]
    if (!handler) {
      emit({ id: request.id, error: `unknown command ${request.cmd}` })
      return
    }
    Promise.resolve()
      .then(() => handler(request))
      .then(
        (result) => emit({ id: request.id, result: result ?? null }),
        (error) => emit({ id: request.id, error: String(error?.stack ?? error) }),
      )
  })
  // The orchestrator went away (closed our stdin): nothing should outlive it.
  lines.on('close', () => process.exit(0))
}
