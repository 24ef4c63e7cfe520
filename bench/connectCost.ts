// What one authenticated connection costs the server, in CPU: N sockets open, authenticate and wait for
// `authenticated` (200 at a time, as the bench's load client does), and the server process's CPU time over that
// phase divided by N. A rate depends on the load client and on whatever else the machine runs; CPU per connect
// moves much less, so it is what tells two versions of the connect path apart. Herald (bench/servers/herald.ts on
// a database of its own, PostgreSQL bus) or, with --bare, bare Bun (bench/servers/bun.ts) for the floor.
//
//   bun bench/connectCost.ts [--n 10000] [--runs 3] [--bare] [--profile] [--database-url postgres://…]
//
// --profile runs the server under Bun's CPU profiler (Markdown in bench/results/profiles/), its sockets left
// open when it exits so the profile holds start-up and connects only.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import postgres from 'postgres'
import { openDatabase } from '../src/server/db/openDatabase'
import { signPeerToken } from './lib/peerToken'
import { readCpuSeconds } from './lib/proc'
import { seedHeraldUsers } from './lib/seedHerald'

const { values: options } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
    bare: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'database-url': {
      type: 'string',
      default: process.env.HERALD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
  },
})
const n = Number(options.n)
const JWT_SECRET = randomBytes(32).toString('hex')
const PEER_SECRET = randomBytes(32).toString('hex')
const CONCURRENCY = 200
const TIMEOUT_MS = 60_000

const admin = postgres(options['database-url']!, { max: 1, onnotice: () => {} })
const name = `herald_connect_${randomBytes(6).toString('hex')}`
const work = mkdtempSync(join(tmpdir(), 'herald-connect-'))
await admin.unsafe(`create database ${name}`)
try {
  const url = new URL(options['database-url']!)
  url.pathname = `/${name}`
  const handle = await openDatabase({ databaseUrl: url.toString() })
  const users = await seedHeraldUsers(handle.db, JWT_SECRET, n)
  await handle.close()
  const usersFile = join(work, 'users.json')
  writeFileSync(usersFile, JSON.stringify(users))
  const tokens = options.bare
    ? users.map((u) => signPeerToken(PEER_SECRET, String(u.userId)))
    : users.map((u) => u.token)
  const perConnect: number[] = []
  for (let run = 1; run <= Number(options.runs); run++) {
    const result = await oneRun(url.toString(), usersFile, tokens)
    perConnect.push(result.cpuUs)
    console.log(
      `run ${run}: ${n} connected in ${result.seconds.toFixed(2)} s (${Math.round(n / result.seconds)}/s), server CPU ${result.cpuUs.toFixed(1)} µs per connect`,
    )
  }
  perConnect.sort((a, b) => a - b)
  console.log(
    `${options.bare ? 'bare Bun' : 'Herald'}: median ${perConnect[Math.floor(perConnect.length / 2)]!.toFixed(1)} µs of server CPU per connect`,
  )
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end({ timeout: 5 })
  rmSync(work, { recursive: true, force: true })
}

async function oneRun(databaseUrl: string, usersFile: string, tokens: string[]) {
  const server = Bun.spawn(
    [
      process.execPath,
      ...(options.profile
        ? ['--cpu-prof-md', `--cpu-prof-dir=${join(import.meta.dir, 'results/profiles')}`]
        : []),
      options.bare ? 'bench/servers/bun.ts' : 'bench/servers/herald.ts',
    ],
    {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: '0',
        JWT_SECRET,
        HERALD_ADMIN_KEY: randomBytes(24).toString('hex'),
        LOCAL_CHAIN: 'false',
        LOG_LEVEL: 'warn',
        MAX_CONNECTIONS: '1000000',
        WS_CONNECTIONS_PER_SECOND_PER_IP: '100000',
        MAX_ANONYMOUS_CONNECTIONS_PER_IP: '1000000',
        DATABASE_URL: databaseUrl,
        BUS: 'postgres',
        DATA_DIR: work,
        BENCH_USERS_FILE: usersFile,
        BENCH_PEER_SECRET: PEER_SECRET,
      },
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'inherit',
    },
  )
  const kill = setTimeout(() => server.kill('SIGKILL'), 5 * TIMEOUT_MS)
  try {
    const port = await readyPort(server.stdout)
    const sockets: WebSocket[] = []
    let next = 0
    const cpuBefore = readCpuSeconds(server.pid)
    const started = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < tokens.length) sockets.push(await open(`ws://127.0.0.1:${port}/ws`, tokens[next++]!))
      }),
    )
    const seconds = (performance.now() - started) / 1000
    const cpuUs = ((readCpuSeconds(server.pid) - cpuBefore) * 1e6) / tokens.length
    if (!options.profile) for (const ws of sockets) ws.close()
    // The server exits when its stdin closes (bench/lib/childIo.ts), writing its profile if asked.
    server.stdin.end()
    await server.exited
    return { seconds, cpuUs }
  } finally {
    clearTimeout(kill)
    server.kill('SIGKILL')
  }
}

async function readyPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.getReader()
  const decoder = new TextDecoder()
  let text = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) throw new Error('the server exited before it was ready')
    text += decoder.decode(value)
    const port = text.match(/"port":(\d+)/)?.[1]
    if (port) {
      // Keep reading (and dropping) what it prints, so its writes never block on a full pipe.
      void (async () => {
        while (!(await reader.read()).done) {}
      })().catch(() => {})
      return Number(port)
    }
  }
}

function open(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const timer = setTimeout(() => reject(new Error('no authenticated in time')), TIMEOUT_MS)
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }))
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as { type?: string }
      if (message.type === 'authenticated') {
        clearTimeout(timer)
        resolve(ws)
      } else if (message.type === 'error') reject(new Error(String(event.data)))
    }
    ws.onclose = (event) => reject(new Error(`closed ${event.code}`))
  })
}
