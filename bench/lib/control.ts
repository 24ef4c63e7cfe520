import type { Subprocess } from 'bun'

type Reply = { id?: number; event?: string; result?: unknown; error?: string; [key: string]: unknown }

const live = new Set<Child>()

/**
 * A bench process (server or load client) driven over its stdin/stdout (see childIo.ts). Every request has a
 * timeout, and every child is killed when the orchestrator exits, so nothing outlives a run.
 */
export class Child {
  readonly pid: number
  private nextId = 1
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  private readonly eventWaiters: { name: string; resolve(v: Reply): void }[] = []
  private readonly events: Reply[] = []
  private exitError: Error | null = null
  readonly exited: Promise<number>

  private constructor(
    readonly name: string,
    private readonly proc: Subprocess<'pipe', 'pipe', 'pipe'>,
  ) {
    this.pid = proc.pid
    live.add(this)
    this.exited = proc.exited.then((code) => {
      live.delete(this)
      this.exitError = new Error(`${name} exited with code ${code}`)
      for (const { reject } of this.pending.values()) reject(this.exitError)
      this.pending.clear()
      return code
    })
    void this.readLines(proc.stdout, (line) => this.onLine(line))
    void this.readLines(proc.stderr, (line) => {
      if (line.trim()) process.stderr.write(`  [${name}] ${line}\n`)
    })
  }

  static spawn(name: string, cmd: string[], env: Record<string, string> = {}): Child {
    const proc = Bun.spawn(cmd, {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      env: { ...process.env, ...env },
      cwd: `${import.meta.dir}/../..`,
    })
    return new Child(name, proc)
  }

  /** Sends a command and waits for its answer. */
  request<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError)
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.name}: ${cmd} did not answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer)
          resolve(value as T)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
      this.proc.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`)
      this.proc.stdin.flush()
    })
  }

  /** Waits for an unsolicited event line (`{"event": name, ...}`), e.g. "ready". */
  waitEvent(name: string, timeoutMs = 60_000): Promise<Reply> {
    const index = this.events.findIndex((e) => e.event === name)
    if (index >= 0) return Promise.resolve(this.events.splice(index, 1)[0]!)
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no ${name} within ${timeoutMs} ms`)),
        timeoutMs,
      )
      const waiter = {
        name,
        resolve: (reply: Reply) => {
          clearTimeout(timer)
          resolve(reply)
        },
      }
      this.eventWaiters.push(waiter)
      void this.exited.then(() => {
        clearTimeout(timer)
        reject(this.exitError)
      })
    })
  }

  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exitError) return
    try {
      this.proc.stdin.end()
    } catch {}
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  kill(): void {
    this.proc.kill('SIGKILL')
  }

  /** Sends a signal (the restart storm's SIGTERM: a graceful stop). */
  signal(name: NodeJS.Signals): void {
    this.proc.kill(name)
  }

  private onLine(line: string): void {
    if (!line.startsWith('@@')) {
      if (line.trim()) process.stderr.write(`  [${this.name}] ${line}\n`)
      return
    }
    const reply = JSON.parse(line.slice(2)) as Reply
    if (reply.event !== undefined) {
      const index = this.eventWaiters.findIndex((w) => w.name === reply.event)
      if (index >= 0) this.eventWaiters.splice(index, 1)[0]!.resolve(reply)
      else this.events.push(reply)
      return
    }
    const waiter = this.pending.get(reply.id!)
    if (!waiter) return
    this.pending.delete(reply.id!)
    if (reply.error) waiter.reject(new Error(`${this.name}: ${reply.error}`))
    else waiter.resolve(reply.result)
  }

  private async readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    const decoder = new TextDecoder()
    let buffered = ''
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true })
      let newline = buffered.indexOf('\n')
      while (newline >= 0) {
        onLine(buffered.slice(0, newline))
        buffered = buffered.slice(newline + 1)
        newline = buffered.indexOf('\n')
      }
    }
    if (buffered) onLine(buffered)
  }
}

/** Kills every child still running (the orchestrator is exiting or timed out). */
export function killAllChildren(): void {
  for (const child of live) child.kill()
}
