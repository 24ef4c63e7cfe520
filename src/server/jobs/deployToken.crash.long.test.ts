import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { count, eq } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { getAddress, type Hex, keccak256 } from 'viem'
import {
  ANVIL_ADDRESSES,
  ANVIL_KEYS,
  anvilRpc,
  startTestChain,
  type TestChain,
  transactionCount,
} from '../../../test/helpers/anvil'
import { within } from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { type Database, openDatabase } from '../db/openDatabase'
import { chainTransactions, tokens } from '../db/schema'

/**
 * A worker killed with SIGKILL in the middle of a deployment and started again on the same database: the
 * deployment ends with one contract, one transaction (the deployer's nonce rises by one) and each
 * notification once. Real OS processes; the window of the crash is made exact by holding the chain still
 * (automine off) or by an RPC proxy that never answers one call.
 *
 * The restarted process only retries the job once pg-boss has expired it: JOB_TIMEOUT_SECONDS after it
 * started, noticed on pg-boss's next supervise pass.
 */

const JOB_TIMEOUT_SECONDS = 8
const DEPLOYER = ANVIL_ADDRESSES[0]
/** From the kill to the success notification: expiry, a supervise pass, the retry's backoff and pickup. */
const RECOVERY_TIMEOUT_MS = 45_000
const TEST_TIMEOUT_MS = 80_000

let anvil: TestChain
/** Whatever a test started, stopped in afterAll too in case the test timed out before its finally. */
const cleanups = new Set<() => Promise<unknown>>()

beforeAll(async () => {
  anvil = await startTestChain()
}, 30_000)

afterAll(async () => {
  for (const cleanup of [...cleanups].reverse()) await cleanup().catch(() => {})
  await anvil?.stop()
}, 30_000)

const rpc = anvilRpc

const deployerNonce = () => transactionCount(anvil.rpcUrl, DEPLOYER)

/** Polled all the time by the receipt wait and the transfer watcher: left out of the proxy's record. */
const NOISY = new Set(['eth_blockNumber', 'eth_getLogs', 'eth_getTransactionReceipt'])

interface RpcCall {
  method: string
  params: unknown[]
}

/**
 * A JSON-RPC proxy in front of anvil that can leave every call of one method unanswered: the caller
 * hangs there, exactly where the test wants to kill it. Held calls are never forwarded.
 */
function startRpcProxy(target: string) {
  let holding: string[] | null = null
  let onHeld: ((call: RpcCall) => void) | null = null
  const releases: (() => void)[] = []
  const seen: string[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 120,
    async fetch(request) {
      const text = await request.text()
      const parsed = JSON.parse(text) as RpcCall | RpcCall[]
      const calls = Array.isArray(parsed) ? parsed : [parsed]
      for (const call of calls) if (!NOISY.has(call.method)) seen.push(call.method)
      const held = holding === null ? undefined : calls.find((call) => holding!.includes(call.method))
      if (held) {
        onHeld?.(held)
        await new Promise<void>((resolve) => releases.push(resolve))
        return new Response('dropped by the test proxy', { status: 503 })
      }
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: text,
      })
      return new Response(await response.text(), {
        status: response.status,
        headers: { 'content-type': 'application/json' },
      })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    /** The methods called so far (polling left out), for failure messages. */
    seen,
    /** Holds every later call of these methods; resolves with the first one. */
    hold(...methods: string[]): Promise<RpcCall> {
      holding = methods
      return new Promise((resolve) => {
        onHeld = resolve
      })
    },
    /** Stops holding; held calls are answered 503 (their callers are dead by then), never forwarded. */
    passThrough() {
      holding = null
      onHeld = null
      for (const release of releases.splice(0)) release()
    },
    async stop() {
      this.passThrough()
      await server.stop(true)
    },
  }
}

/** Where the two processes keep their data: a DATA_DIR (PGlite), or a fresh PostgreSQL database. */
async function createStorage() {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-crash-'))
  const database = usingPostgres() ? await createTestDatabaseUrl() : null
  const env: Record<string, string> = { DATA_DIR: dataDir }
  if (database) env.DATABASE_URL = database.url
  /** Opens the database in this process: only once every Herald on a PGlite DATA_DIR has stopped. */
  const withDatabase = async <T>(use: (db: Database) => Promise<T>): Promise<T> => {
    if (database) {
      const client = postgres(database.url, { max: 1, onnotice: () => {} })
      try {
        return await use(drizzle(client) as unknown as Database)
      } finally {
        await client.end({ timeout: 5 })
      }
    }
    const handle = await openDatabase({ dataDir })
    try {
      return await use(handle.db)
    } finally {
      await handle.close()
    }
  }
  let cleaned: Promise<void> | null = null
  const cleanup = () => {
    cleaned ??= (async () => {
      await database?.drop()
      rmSync(dataDir, { recursive: true, force: true })
    })()
    return cleaned
  }
  cleanups.add(cleanup)
  return { env, withDatabase, cleanup }
}

async function spawn(env: Record<string, string>, label: string): Promise<HeraldProcess> {
  const herald = await spawnHerald(
    {
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
      JOB_TIMEOUT_SECONDS: String(JOB_TIMEOUT_SECONDS),
      JOB_RETRY_LIMIT: '3',
      ...env,
    },
    { label },
  )
  cleanups.add(() => herald.kill('SIGKILL'))
  return herald
}

type NotificationMessage = { type: 'notification'; notification: Notification }
const jobNotice =
  (jobId: string, type?: string) =>
  (m: { type: string; [k: string]: unknown }): m is NotificationMessage =>
    m.type === 'notification' &&
    ((m as NotificationMessage).notification.data as { jobId?: string } | null)?.jobId === jobId &&
    (type === undefined || (m as NotificationMessage).notification.type === type)

async function requestDeployment(url: string, session: Session, symbol: string): Promise<string> {
  const response = await fetch(`${url}/api/tokens`, {
    method: 'POST',
    headers: { ...bearer(session.token), 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Crash ${symbol}`, symbol, initialSupply: '1000' }),
  })
  expect(response.status).toBe(202)
  return ((await response.json()) as { jobId: string }).jobId
}

/** After the crash: a new process on the same data, a new socket resuming from 0, until the job is done. */
async function recover(
  herald: HeraldProcess,
  session: Session,
  jobId: string,
  track: (s: TestSocket) => void,
) {
  const socket = await connectAuthenticated(herald.wsUrl, session.token)
  track(socket)
  socket.send({ type: 'resume', since: 0 })
  await socket.next('resumed')
  const { notification: success } = await socket.next<NotificationMessage>(
    jobNotice(jobId, 'token_deployment_success'),
    RECOVERY_TIMEOUT_MS,
  )
  await socket.next(
    (m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'completed',
    RECOVERY_TIMEOUT_MS,
  )
  return { socket, success }
}

/** Everything that must hold once the job is done, however the crash fell. */
async function expectOneDeployment(params: {
  herald: HeraldProcess
  socket: TestSocket
  session: Session
  jobId: string
  nonceBefore: number
  txHash?: Hex
}) {
  const { herald, socket, session, jobId } = params
  // Each notification once on the resumed socket (replayed or live), in order.
  const onSocket = socket.messages.filter(jobNotice(jobId)).map((m) => m.notification)
  expect(onSocket.map((n) => n.type)).toEqual([
    'token_deployment_started',
    'token_deployment_pending',
    'token_deployment_success',
  ])
  // … and once in the whole history.
  const history = (await (
    await fetch(`${herald.url}/api/notifications?limit=100`, { headers: bearer(session.token) })
  ).json()) as { notifications: Notification[] }
  const ofJob = history.notifications
    .filter((n) => (n.data as { jobId?: string } | null)?.jobId === jobId)
    .sort((a, b) => a.seq - b.seq)
  expect(ofJob.map((n) => n.type)).toEqual([
    'token_deployment_started',
    'token_deployment_pending',
    'token_deployment_success',
  ])
  const pendingHash = (ofJob[1]!.data as { txHash: Hex }).txHash
  const success = ofJob[2]!.data as { txHash: Hex; address: string; blockNumber: number; tokenId: string }
  // One transaction: the one announced as pending, and (when the test knows it) the one signed before the crash.
  expect(success.txHash).toBe(pendingHash)
  if (params.txHash) expect(success.txHash).toBe(params.txHash)
  expect(await deployerNonce()).toBe(params.nonceBefore + 1)
  const receipt = await rpc<{ status: string; contractAddress: string; blockNumber: string }>(
    anvil.rpcUrl,
    'eth_getTransactionReceipt',
    [success.txHash],
  )
  expect(receipt.status).toBe('0x1')
  expect(getAddress(receipt.contractAddress)).toBe(getAddress(success.address))
  expect(Number.parseInt(receipt.blockNumber, 16)).toBe(success.blockNumber)
  expect(await rpc<string>(anvil.rpcUrl, 'eth_getCode', [success.address, 'latest'])).not.toBe('0x')

  const job = (await (
    await fetch(`${herald.url}/api/jobs/${jobId}`, { headers: bearer(session.token) })
  ).json()) as { status: string; result: { txHash: string; address: string } | null; error: unknown }
  expect(job.status).toBe('completed')
  expect(job.error).toBeNull()
  expect(job.result).toMatchObject({ txHash: success.txHash, address: success.address })

  const list = (await (
    await fetch(`${herald.url}/api/tokens`, { headers: bearer(session.token) })
  ).json()) as {
    tokens: { address: string; deploymentTx: string }[]
  }
  expect(list.tokens).toHaveLength(1)
  expect(list.tokens[0]).toMatchObject({ address: success.address, deploymentTx: success.txHash })
  return success
}

/** Rows of the job in the database itself (after the processes stopped, for PGlite). */
async function countRows(storage: Awaited<ReturnType<typeof createStorage>>, jobId: string) {
  return storage.withDatabase(async (db) => {
    const [tokenRows] = await db
      .select({ n: count() })
      .from(tokens)
      .where(eq(tokens.jobId, Number(jobId)))
    const [txRows] = await db
      .select({ n: count() })
      .from(chainTransactions)
      .where(eq(chainTransactions.jobId, Number(jobId)))
    const [allTokens] = await db.select({ n: count() }).from(tokens)
    return { tokens: tokenRows!.n, transactions: txRows!.n, allTokens: allTokens!.n }
  })
}

type RpcProxy = ReturnType<typeof startRpcProxy>

/** What a crash scenario's body works with: set up, and torn down whatever happens, by crashScenario. */
interface CrashScenario {
  /** Null unless the scenario asked for the RPC proxy. */
  proxy: RpcProxy | null
  /** The deployer's nonce before the first process started. */
  nonceBefore: number
  /** The process that will be killed, its user and that user's socket on it. */
  first: HeraldProcess
  session: Session
  firstSocket: TestSocket
  /** Starts the second process on the same data and checks it finishes the job with one deployment. */
  recoverAndCheck(jobId: string, txHash?: Hex): Promise<void>
}

/**
 * The part every crash scenario shares: fresh storage, the first process (straight on anvil, or behind the
 * RPC proxy), a signed-in user with a socket; then, from the body, the restart and every check of one
 * deployment. Whatever the body does, processes, sockets, the proxy and the storage are gone afterwards and
 * anvil mines on its own again; on failure the processes' output (and the RPC calls seen) are printed.
 */
async function crashScenario(
  options: { rpcProxy: boolean },
  body: (scenario: CrashScenario) => Promise<void>,
) {
  const storage = await createStorage()
  const proxy = options.rpcProxy ? startRpcProxy(anvil.rpcUrl) : null
  if (proxy) cleanups.add(() => proxy.stop())
  const env = { ...storage.env, CHAIN_RPC_URL: proxy?.url ?? anvil.rpcUrl }
  const processes: HeraldProcess[] = []
  const sockets: TestSocket[] = []
  const start = async (label: string) => {
    const herald = await spawn(env, label)
    processes.push(herald)
    return herald
  }
  try {
    const nonceBefore = await deployerNonce()
    const first = await start('herald-1')
    const session = await signIn(first.url)
    const firstSocket = await connectAuthenticated(first.wsUrl, session.token)
    sockets.push(firstSocket)
    await body({
      proxy,
      nonceBefore,
      first,
      session,
      firstSocket,
      async recoverAndCheck(jobId, txHash) {
        const second = await start('herald-2')
        const { socket } = await recover(second, session, jobId, (s) => sockets.push(s))
        await expectOneDeployment({ herald: second, socket, session, jobId, nonceBefore, txHash })
        socket.close()
        expect(await second.kill('SIGTERM')).toEqual({ code: 0, signal: null })
        expect(await countRows(storage, jobId)).toEqual({ tokens: 1, transactions: 1, allTokens: 1 })
      },
    })
  } catch (error) {
    const outputs = processes.map((p) => p.output())
    if (proxy) outputs.push(`RPC calls: ${proxy.seen.join(' ')}`)
    console.error(outputs.join('\n'))
    throw error
  } finally {
    for (const socket of sockets) socket.close()
    for (const herald of processes) await herald.kill('SIGKILL')
    await proxy?.stop()
    await rpc(anvil.rpcUrl, 'evm_setAutomine', [true]).catch(() => {})
    await storage.cleanup()
  }
}

describe('a worker killed during a deployment, then restarted', () => {
  test(
    'after the transaction is sent, before its receipt: one contract, one success',
    () =>
      crashScenario(
        { rpcProxy: false },
        async ({ first, session, firstSocket, nonceBefore, recoverAndCheck }) => {
          // The deployment stays in the pool until the test mines it.
          await rpc(anvil.rpcUrl, 'evm_setAutomine', [false])
          const jobId = await requestDeployment(first.url, session, 'CRASHA')
          const { notification: pending } = await firstSocket.next<NotificationMessage>(
            jobNotice(jobId, 'token_deployment_pending'),
            20_000,
          )
          const txHash = (pending.data as { txHash: Hex }).txHash
          const inPool = await rpc<{ blockNumber: string | null } | null>(
            anvil.rpcUrl,
            'eth_getTransactionByHash',
            [txHash],
          )
          expect(inPool).not.toBeNull()
          expect(inPool!.blockNumber).toBeNull()

          expect(await first.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
          await firstSocket.closed
          // The dead worker's transaction is mined while no one waits for it.
          await rpc(anvil.rpcUrl, 'evm_mine')
          await rpc(anvil.rpcUrl, 'evm_setAutomine', [true])
          expect(await deployerNonce()).toBe(nonceBefore + 1)

          await recoverAndCheck(jobId, txHash)
        },
      ),
    TEST_TIMEOUT_MS,
  )

  test(
    'after the transaction is signed and recorded, before it is broadcast: the same bytes are sent on retry',
    () =>
      crashScenario(
        { rpcProxy: true },
        async ({ proxy, first, session, firstSocket, nonceBefore, recoverAndCheck }) => {
          const broadcast = proxy!.hold('eth_sendRawTransaction')
          const jobId = await requestDeployment(first.url, session, 'CRASHB')
          const held = await within(broadcast, 20_000, 'the broadcast to be held')
          await firstSocket.next(jobNotice(jobId, 'token_deployment_started'), 20_000)
          const txHash = keccak256(held.params[0] as Hex)

          expect(await first.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
          await firstSocket.closed
          proxy!.passThrough()
          // The node never saw it: only the database knows the transaction.
          expect(await rpc(anvil.rpcUrl, 'eth_getTransactionByHash', [txHash])).toBeNull()
          expect(await deployerNonce()).toBe(nonceBefore)
          expect(firstSocket.messages.some(jobNotice(jobId, 'token_deployment_pending'))).toBe(false)

          await recoverAndCheck(jobId, txHash)
        },
      ),
    TEST_TIMEOUT_MS,
  )

  test(
    'right after token_deployment_started, before anything is signed: one transaction after the retry',
    () =>
      crashScenario(
        { rpcProxy: true },
        async ({ proxy, first, session, firstSocket, nonceBefore, recoverAndCheck }) => {
          // Gas estimation is the first chain call after the started notification is stored (viem asks
          // eth_fillTransaction where it can, eth_estimateGas otherwise).
          const estimate = proxy!.hold('eth_estimateGas', 'eth_fillTransaction')
          const jobId = await requestDeployment(first.url, session, 'CRASHC')
          await firstSocket.next(jobNotice(jobId, 'token_deployment_started'), 20_000)
          await within(estimate, 20_000, 'the gas estimate to be held')

          expect(await first.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
          await firstSocket.closed
          proxy!.passThrough()
          expect(await deployerNonce()).toBe(nonceBefore)

          await recoverAndCheck(jobId)
        },
      ),
    TEST_TIMEOUT_MS,
  )
})
