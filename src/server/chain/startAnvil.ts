import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { settleWithin, withTimeout } from '../time/withTimeout'

export interface StartAnvilOptions {
  /** Chain id the node reports; default 31337 (anvil's own default). */
  chainId?: number
  /**
   * Keeps the chain across restarts: loaded at start (when it exists), dumped at exit and every
   * `stateIntervalSeconds` while running. The parent directory is created.
   */
  stateFile?: string
  /** How often the state file is rewritten while running; default 5 s. Only with `stateFile`. */
  stateIntervalSeconds?: number
  /** Interval mining every this many seconds; default: automine (a block per transaction). */
  blockTime?: number
  /** BIP39 mnemonic for the dev accounts; default anvil's "test test … junk". */
  mnemonic?: string
  /** Unexpected exit after start. Reported, never thrown; defaults to console.error. */
  onError?: (error: unknown, context: string) => void
  /** Receives every line anvil prints (stdout and stderr). */
  log?: (line: string) => void
  /** Until the RPC answers eth_chainId; default 20 s. */
  startupTimeoutMs?: number
  /** How long stop() waits after SIGTERM (state dump included) before SIGKILL; default 10 s. */
  stopTimeoutMs?: number
}

export interface AnvilInstance {
  /** http://127.0.0.1:PORT */
  rpcUrl: string
  port: number
  /** The anvil process, for diagnostics. */
  pid: number
  /** As answered by eth_chainId. */
  chainId: number
  /** SIGTERM, wait for the exit (the state file is written then), SIGKILL after a timeout. Idempotent. */
  stop(): Promise<void>
}

const HOST = '127.0.0.1'
const DEFAULT_CHAIN_ID = 31337
const LISTENING = /Listening on 127\.0\.0\.1:(\d+)/
const RECENT_LINES = 30

/** Spawns anvil on 127.0.0.1 (random port) and resolves once its RPC answers eth_chainId. */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilInstance> {
  const requestedChainId = options.chainId ?? DEFAULT_CHAIN_ID
  const startupTimeoutMs = options.startupTimeoutMs ?? 20_000
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000
  const binary = resolveAnvilBinary()

  const args = ['--host', HOST, '--port', '0', '--chain-id', String(requestedChainId), '--color', 'never']
  if (options.stateFile !== undefined) {
    const stateFile = resolve(options.stateFile)
    mkdirSync(dirname(stateFile), { recursive: true })
    args.push('--state', stateFile, '--state-interval', String(options.stateIntervalSeconds ?? 5))
  }
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime))
  if (options.mnemonic !== undefined) args.push('--mnemonic', options.mnemonic)

  // ANVIL_IP_ADDR would add hosts to listen on; only --host 127.0.0.1 counts.
  const env = { ...process.env }
  delete env.ANVIL_IP_ADDR
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
  liveChildren.add(child)
  installExitHook()

  const recent: string[] = []
  let onListening: ((port: number) => void) | null = null
  const onLine = (line: string) => {
    recent.push(line)
    if (recent.length > RECENT_LINES) recent.shift()
    options.log?.(line)
    const match = onListening && LISTENING.exec(line)
    if (match) onListening?.(Number(match[1]))
  }
  // Always drained: anvil logs every RPC call, and a full pipe would block it.
  readLines(child.stdout!, onLine)
  readLines(child.stderr!, onLine)
  const lastOutput = () => (recent.length ? `\n--- last anvil output ---\n${recent.join('\n')}` : '')

  let exited = false
  let stopping = false
  let ready = false
  let onEarlyExit: ((error: Error) => void) | null = null
  const exitPromise = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = true
      liveChildren.delete(child)
      resolveExit()
      const error = new Error(`anvil exited (code ${code}, signal ${signal})${lastOutput()}`)
      if (!ready) onEarlyExit?.(error)
      else if (!stopping) report(options, error, 'anvil exited unexpectedly')
    })
  })
  child.once('error', (error) => {
    // Spawn failure (ENOENT, EACCES…): no 'exit' follows in that case.
    exited = true
    liveChildren.delete(child)
    onEarlyExit?.(new Error(`could not run anvil at ${binary}: ${error.message}`))
  })

  const kill = async (signal: NodeJS.Signals) => {
    if (exited) return
    child.kill(signal)
    await exitPromise
  }

  let port: number
  let chainId: number
  try {
    const deadline = Date.now() + startupTimeoutMs
    // An early exit fails the start at once; the timeout names what anvil printed by then.
    const exitedEarly = new Promise<never>((_, reject) => {
      onEarlyExit = reject
    })
    exitedEarly.catch(() => {})
    ;[port, chainId] = await withTimeout(
      (async () => {
        const listening = await Promise.race([
          new Promise<number>((resolvePort) => {
            onListening = resolvePort
          }),
          exitedEarly,
        ])
        onListening = null
        const id = await Promise.race([
          waitForChainId(`http://${HOST}:${listening}`, deadline, () => exited),
          exitedEarly,
        ])
        return [listening, id] as const
      })(),
      startupTimeoutMs,
      () => `anvil did not answer within ${startupTimeoutMs} ms${lastOutput()}`,
    )
    if (chainId !== requestedChainId) {
      throw new Error(`anvil reports chain id ${chainId}, expected ${requestedChainId}`)
    }
  } catch (error) {
    await kill('SIGKILL')
    throw new Error(`Could not start anvil: ${(error as Error).message}`, { cause: error })
  }
  ready = true
  onEarlyExit = null

  let stopPromise: Promise<void> | null = null
  const stop = () => {
    stopPromise ??= (async () => {
      stopping = true
      if (exited) return
      child.kill('SIGTERM')
      const timedOut = await settleWithin(
        exitPromise.then(() => false),
        stopTimeoutMs,
        true,
      )
      if (timedOut) await kill('SIGKILL')
    })()
    return stopPromise
  }

  return { rpcUrl: `http://${HOST}:${port}`, port, pid: child.pid!, chainId, stop }
}

/** The binary of anvil's platform package, e.g. @foundry-rs/anvil-linux-amd64/bin/anvil. */
function resolveAnvilBinary(): string {
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch]
  const supported = ['linux', 'darwin', 'win32'].includes(process.platform) && arch !== undefined
  if (!supported) throw new Error(`anvil has no binary for ${process.platform}/${process.arch}`)
  const packageName = `@foundry-rs/anvil-${process.platform}-${arch}`
  let packageDir: string
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve(`${packageName}/package.json`))
  } catch {
    throw new Error(
      `anvil's platform package ${packageName} is not installed (it is an optional dependency of @foundry-rs/anvil; run npm install).`,
    )
  }
  const binary = join(packageDir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
  if (!existsSync(binary)) throw new Error(`${packageName} is installed but ${binary} is missing`)
  return binary
}

/** Polls eth_chainId until it answers: anvil prints "Listening" as it binds, normally already serving. */
async function waitForChainId(rpcUrl: string, deadline: number, exited: () => boolean): Promise<number> {
  let lastError: unknown = null
  while (!exited()) {
    try {
      const response = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(Math.max(100, Math.min(2_000, deadline - Date.now()))),
      })
      const body = (await response.json()) as { result?: unknown }
      if (typeof body.result === 'string') return Number.parseInt(body.result, 16)
      lastError = new Error(`unexpected eth_chainId answer ${JSON.stringify(body)}`)
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) break
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`eth_chainId did not answer: ${(lastError as Error | null)?.message ?? 'anvil exited'}`)
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void) {
  let buffered = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    buffered += chunk
    let newline = buffered.indexOf('\n')
    while (newline !== -1) {
      onLine(buffered.slice(0, newline).replace(/\r$/, ''))
      buffered = buffered.slice(newline + 1)
      newline = buffered.indexOf('\n')
    }
  })
  stream.on('end', () => {
    if (buffered) onLine(buffered)
    buffered = ''
  })
}

function report(options: StartAnvilOptions, error: unknown, context: string) {
  try {
    if (options.onError) options.onError(error, context)
    else console.error(`[anvil] ${context}:`, error)
  } catch {
    // A reporter must not turn a child's exit into an uncaught exception.
  }
}

/** Children still running; killed if this process exits without stopping them. */
const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false
function installExitHook() {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // 'exit' handlers must be synchronous: SIGTERM lets anvil dump its state and quit on its own.
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGTERM')
  })
}
