import { isAbsolute } from 'node:path'
import type { Subprocess } from 'bun'

/** The JWT secret every spawned Herald gets unless the caller passes another (sessions survive restarts). */
export const PROCESS_JWT_SECRET = 'process-test-secret-process-test-secret-01'

const READY = /Herald is running on (http:\/\/\S+)/
const KEPT_LINES = 400

export interface HeraldProcess {
  /** http://127.0.0.1:PORT, from the "Herald is running on" line. */
  url: string
  /** ws://127.0.0.1:PORT/ws */
  wsUrl: string
  pid: number
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  /** Resolves when the process has exited: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: string | null }>
  /** The last lines the process printed (stdout and stderr, prefixed), for failure messages. */
  output(): string
  /** Sends the signal (default SIGTERM) and waits for the exit; a no-op once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: string | null }>
}

export interface SpawnHeraldOptions {
  /** Shown in front of every line of output. */
  label?: string
  /** Until the ready line appears; default 60 s (a cold Bun start with PGlite migrations on a busy 2-core machine
   * has taken over 30 s). The process is killed when it does not. */
  startupTimeoutMs?: number
  /** Echo the output as it arrives (or set HERALD_TEST_ECHO=1). */
  echo?: boolean
  /** The script to run instead of src/server/main.ts (relative to the repository, or absolute): one with its own jobs, an app that mounts Herald. */
  entry?: string
  /** The line that carries the URL once the program is ready (default Herald's "Herald is running on …"). */
  ready?: RegExp
  /** The working directory (default the repository). */
  cwd?: string
}

/** Every Herald this test process spawned and has not seen exit: killed if the test process exits first. */
const live = new Set<Subprocess>()
let exitHookInstalled = false
function installExitHook() {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const proc of live) proc.kill('SIGKILL')
  })
}

/**
 * Runs `bun src/server/main.ts` as a real OS process on a free port and resolves once it prints its URL.
 * The environment is not inherited (a DATABASE_URL of the shell must not leak in): PATH and HOME, test
 * defaults (NODE_ENV=test, PORT=0, LOCAL_CHAIN=false, a fixed JWT_SECRET, LOG_LEVEL info), then `env`.
 * Always kill() it in afterAll or a finally.
 */
export async function spawnHerald(
  env: Record<string, string>,
  options: SpawnHeraldOptions = {},
): Promise<HeraldProcess> {
  const label = options.label ?? 'herald'
  const echo = options.echo ?? process.env.HERALD_TEST_ECHO === '1'
  const startupTimeoutMs = options.startupTimeoutMs ?? 60_000
  const repository = new URL('../..', import.meta.url).pathname
  const ready = options.ready ?? READY
  const proc = Bun.spawn(
    [
      `${repository}node_modules/.bin/bun`,
      isAbsolute(options.entry ?? '')
        ? options.entry!
        : `${repository}${options.entry ?? 'src/server/main.ts'}`,
    ],
    {
      cwd: options.cwd ?? repository,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: '0',
        LOCAL_CHAIN: 'false',
        JWT_SECRET: PROCESS_JWT_SECRET,
        LOG_LEVEL: process.env.HERALD_TEST_LOG_LEVEL ?? 'info',
        ...env,
      },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    },
  )
  live.add(proc)
  installExitHook()

  const lines: string[] = []
  let onReady: ((url: string) => void) | null = null
  const onLine = (stream: string, line: string) => {
    const text = `[${label} ${stream}] ${line}`
    lines.push(text)
    if (lines.length > KEPT_LINES) lines.shift()
    if (echo) console.log(text)
    const match = ready.exec(line)
    if (match && onReady) onReady(match[1]!)
  }
  const drained = Promise.all([
    readLines(proc.stdout, (line) => onLine('out', line)),
    readLines(proc.stderr, (line) => onLine('err', line)),
  ])
  const output = () => lines.join('\n')

  const exited = proc.exited.then(async () => {
    live.delete(proc)
    // The pipes close with the process; wait briefly so the last lines are in output().
    await Promise.race([drained, Bun.sleep(500)])
    const signal = proc.signalCode
    return { code: signal ? null : proc.exitCode, signal: signal ? String(signal) : null }
  })
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
    return exited
  }

  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    const url = await Promise.race([
      new Promise<string>((resolve) => {
        onReady = resolve
      }),
      exited.then(({ code, signal }) => {
        throw new Error(`${label} exited before it was ready (code ${code}, signal ${signal})`)
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${label} was not ready within ${startupTimeoutMs} ms`)),
          startupTimeoutMs,
        )
      }),
    ])
    onReady = null
    return { url, wsUrl: `${url.replace(/^http/, 'ws')}/ws`, pid: proc.pid, proc, exited, output, kill }
  } catch (error) {
    await kill('SIGKILL')
    throw new Error(`${(error as Error).message}\n--- output ---\n${output()}`, { cause: error })
  } finally {
    clearTimeout(timer)
  }
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  const decoder = new TextDecoder()
  let buffered = ''
  try {
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true })
      let newline = buffered.indexOf('\n')
      while (newline !== -1) {
        onLine(buffered.slice(0, newline).replace(/\r$/, ''))
        buffered = buffered.slice(newline + 1)
        newline = buffered.indexOf('\n')
      }
    }
  } catch {
    // A pipe torn down by a kill: whatever arrived is kept.
  }
  if (buffered) onLine(buffered)
}
