import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, eq, inArray, like, sql } from 'drizzle-orm'
import {
  type Address,
  createPublicClient,
  createWalletClient,
  getAddress,
  type Hash,
  http,
  type PrivateKeyAccount,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import {
  ANVIL_ADDRESSES,
  ANVIL_KEYS,
  deployDirect,
  fund,
  mine,
  setAutomine,
  startTestChain,
  type TestChain,
} from '../../../test/helpers/anvil'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { until } from '../../../test/helpers/until'
import { bearer, newAccount, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification, Transfer } from '../../shared/protocol'
import type { Database, DatabaseHandle } from '../db/openDatabase'
import { chainCursors, notifications, tokenTransfers, users } from '../db/schema'
import { heraldTokenAbi } from './heraldToken'
import { TRANSFER_CURSOR } from './startTransferWatcher'

const INTERVAL_MS = 100
/** Long enough for several watcher passes: what "nothing more arrives" waits for. */
const QUIET_MS = INTERVAL_MS * 6
const E18 = 10n ** 18n

let chain: TestChain
let env: Record<string, string>
/** The main server: one confirmation, ranges of at most 2 blocks. Restarted by one test, on the same data. */
let server: TestServer
let database: DatabaseHandle
let alice: Session
let bob: Session
/** alice's token, deployed through Herald in beforeAll (1000 WATCH minted to alice). */
let token: Address
let deployedBlock: number
/** alice's socket from before the deployment: it saw the mint happen. */
let deploySocket: TestSocket

interface TransferData {
  token: string
  symbol: string
  standard: 'erc20'
  from: string
  to: string
  value: string
  amount: string
  txHash: string
  logIndex: number
  blockNumber: number
}
type Sent = { hash: Hash; blockNumber: number; logIndex: number }

const publicClient = () => createPublicClient({ chain: foundry, transport: http(chain.rpcUrl) })

/** Sends `token.transfer(to, value)` from `from` and returns the hash (not waiting for it to be mined). */
async function sendTransfer(from: PrivateKeyAccount, tokenAddress: Address, to: Address, value: bigint) {
  const wallet = createWalletClient({ account: from, chain: foundry, transport: http(chain.rpcUrl) })
  return wallet.writeContract({
    address: tokenAddress,
    abi: heraldTokenAbi,
    functionName: 'transfer',
    args: [to, value],
  })
}

async function mined(hash: Hash): Promise<Sent> {
  const receipt = await publicClient().waitForTransactionReceipt({ hash, pollingInterval: 50 })
  expect(receipt.status).toBe('success')
  expect(receipt.logs).toHaveLength(1)
  return { hash, blockNumber: Number(receipt.blockNumber), logIndex: receipt.logs[0]!.logIndex }
}

const transfer = async (from: PrivateKeyAccount, tokenAddress: Address, to: Address, value: bigint) =>
  mined(await sendTransfer(from, tokenAddress, to, value))

/** Transfer notifications a socket received, in arrival order, optionally of one type or transaction. */
function transferNotices(
  socket: TestSocket,
  filter: { type?: string; txHash?: string } = {},
): Notification[] {
  return socket.messages
    .filter((m) => m.type === 'notification')
    .map((m) => (m as { notification: Notification }).notification)
    .filter((n) => n.type.startsWith('token_transfer_'))
    .filter((n) => !filter.type || n.type === filter.type)
    .filter((n) => !filter.txHash || (n.data as TransferData).txHash === filter.txHash)
}

const waitForNotice = (socket: TestSocket, type: string, txHash: string, timeoutMs = 10_000) =>
  until(
    `${type} for ${txHash}; got ${JSON.stringify(socket.messages)}`,
    () => transferNotices(socket, { type, txHash })[0],
    timeoutMs,
    20,
  )

async function cursorOf(db: Database): Promise<number> {
  const [row] = await db
    .select({ block: chainCursors.block })
    .from(chainCursors)
    .where(and(eq(chainCursors.name, TRANSFER_CURSOR), eq(chainCursors.chainId, foundry.id)))
  return row?.block ?? -1
}

/** Until the watcher has committed everything up to `block` (its notifications included). */
const waitForCursor = (target: TestServer, block: number, timeoutMs = 10_000) =>
  until(
    `the transfer cursor to reach block ${block}`,
    async () => ((await cursorOf(target.database.db)) >= block ? true : undefined),
    timeoutMs,
    20,
  )

/** The cursor is committed before the events are published: give them a few passes to land. */
async function settle(target: TestServer, block: number) {
  await waitForCursor(target, block)
  await Bun.sleep(QUIET_MS)
}

const expectedData = (
  sent: Sent,
  t: { token: Address; symbol: string; from: Address; to: Address; value: bigint; amount: string },
): TransferData => ({
  token: t.token,
  symbol: t.symbol,
  standard: 'erc20',
  from: getAddress(t.from),
  to: getAddress(t.to),
  value: t.value.toString(),
  amount: t.amount,
  txHash: sent.hash,
  logIndex: sent.logIndex,
  blockNumber: sent.blockNumber,
})

async function listNotifications(target: TestServer, session: Session): Promise<Notification[]> {
  const response = await fetch(`${target.url}/api/notifications?limit=100`, {
    headers: bearer(session.token),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { notifications: Notification[] }).notifications
}

async function latestSeq(target: TestServer, session: Session): Promise<number> {
  const response = await fetch(`${target.url}/api/notifications/unread-count`, {
    headers: bearer(session.token),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { seq: number }).seq
}

/**
 * An authenticated socket that has resumed from `since`: it then holds every later notification once. The
 * resume follows the auth at once, as the SDK does; waiting for `authenticated` first would let a live
 * notification in before the resume, and the replay (everything after `since`) would send it again.
 */
async function connectResumed(target: TestServer, session: Session, since: number): Promise<TestSocket> {
  const socket = connectSocket(target.wsUrl)
  await socket.opened
  await socket.next('connected')
  socket.send({ type: 'auth', token: session.token })
  socket.send({ type: 'resume', since })
  await socket.next('authenticated')
  await socket.next('resumed')
  return socket
}

/** Every transfer notification stored, for counting across servers and restarts. */
const storedTransferNotifications = (db: Database) =>
  db
    .select({
      userId: notifications.userId,
      type: notifications.type,
      txHash: sql<string>`${notifications.data}->>'txHash'`,
    })
    .from(notifications)
    .where(like(notifications.type, 'token_transfer_%'))

/**
 * Deploys a token through POST /api/tokens and waits for the job; `mineWhileWaiting` mines a block every
 * 150 ms meanwhile (for a server that wants more than one confirmation of the deployment).
 */
async function deployThroughHerald(
  target: TestServer,
  session: Session,
  token: { name: string; symbol: string; initialSupply: string },
  options: { mineWhileWaiting?: boolean; socket?: TestSocket } = {},
) {
  const socket = options.socket ?? (await connectAuthenticated(target.wsUrl, session.token))
  let mining: Promise<void> = Promise.resolve()
  let jobId = ''
  const miner = options.mineWhileWaiting
    ? setInterval(() => {
        mining = mining.then(() => mine(chain.rpcUrl)).catch(() => {})
      }, 150)
    : null
  try {
    const response = await fetch(`${target.url}/api/tokens`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify(token),
    })
    expect(response.status).toBe(202)
    jobId = ((await response.json()) as { jobId: string }).jobId
    await socket.next((m) => m.type === 'job_status' && m.jobId === jobId && m.status === 'completed', 30_000)
  } finally {
    if (miner) clearInterval(miner)
    await mining
  }
  const job = (await (
    await fetch(`${target.url}/api/jobs/${jobId}`, { headers: bearer(session.token) })
  ).json()) as {
    result: { address: Address; blockNumber: number }
  }
  if (!options.socket) socket.close()
  return job.result
}

beforeAll(async () => {
  chain = await startTestChain()
  env = {
    CHAIN_RPC_URL: chain.rpcUrl,
    DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
    WATCHER_INTERVAL_MS: String(INTERVAL_MS),
    WATCHER_MAX_BLOCK_RANGE: '2',
  }
  server = await startTestServer(env, { keepDatabase: true })
  database = server.database
  alice = await signIn(server.url)
  bob = await signIn(server.url)
  // Random accounts: they need gas to transfer.
  await fund(chain.rpcUrl, alice.account.address)
  await fund(chain.rpcUrl, bob.account.address)
  deploySocket = await connectAuthenticated(server.wsUrl, alice.token)
  const deployed = await deployThroughHerald(
    server,
    alice,
    { name: 'Herald Watch', symbol: 'WATCH', initialSupply: '1000' },
    { socket: deploySocket },
  )
  token = deployed.address
  deployedBlock = deployed.blockNumber
}, 60_000)

afterAll(async () => {
  deploySocket?.close()
  await server?.stop()
  await database?.close()
  await chain?.stop()
}, 30_000)

describe('startTransferWatcher', () => {
  test('the mint at deployment notifies no one', async () => {
    await settle(server, deployedBlock)
    const balance = await publicClient().readContract({
      address: token,
      abi: heraldTokenAbi,
      functionName: 'balanceOf',
      args: [alice.account.address],
    })
    expect(balance).toBe(1000n * E18)
    expect(transferNotices(deploySocket)).toEqual([])
    const types = (await listNotifications(server, alice)).map((n) => n.type)
    expect(types).toContain('token_deployment_success')
    expect(types.filter((t) => t.startsWith('token_transfer_'))).toEqual([])
    expect(await storedTransferNotifications(database.db)).toEqual([])
  })

  test('a transfer between two Herald users notifies both, once, with the whole transfer', async () => {
    const aliceSocket = await connectAuthenticated(server.wsUrl, alice.token)
    const bobSocket = await connectAuthenticated(server.wsUrl, bob.token)
    const value = 12n * E18 + E18 / 2n
    const sent = await transfer(alice.account, token, bob.account.address, value)

    const received = await waitForNotice(bobSocket, 'token_transfer_received', sent.hash)
    const paid = await waitForNotice(aliceSocket, 'token_transfer_sent', sent.hash)
    const data = expectedData(sent, {
      token,
      symbol: 'WATCH',
      from: alice.account.address,
      to: bob.account.address,
      value,
      amount: '12.5',
    })
    expect(received.data).toEqual(data)
    expect(paid.data).toEqual(data)
    expect(received.read).toBe(false)
    expect(received.title).toContain('WATCH')

    await settle(server, sent.blockNumber)
    expect(transferNotices(bobSocket)).toHaveLength(1)
    expect(transferNotices(aliceSocket)).toHaveLength(1)
    expect(transferNotices(deploySocket)).toHaveLength(1)
    const bobStored = (await listNotifications(server, bob)).filter((n) =>
      n.type.startsWith('token_transfer_'),
    )
    expect(bobStored.map((n) => n.id)).toEqual([received.id])
    const rows = await database.db.select().from(tokenTransfers).where(eq(tokenTransfers.txHash, sent.hash))
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      tokenAddress: token,
      fromAddress: alice.account.address,
      toAddress: bob.account.address,
      value: value.toString(),
      blockNumber: sent.blockNumber,
      logIndex: sent.logIndex,
    })
    aliceSocket.close()
    bobSocket.close()
  }, 30_000)

  test('a recipient who never signed in gets a user row, and the notification waits for their sign-in', async () => {
    const carol = newAccount()
    const value = 3n * E18
    const sent = await transfer(alice.account, token, carol.address, value)
    await settle(server, sent.blockNumber)

    const [row] = await database.db.select().from(users).where(eq(users.address, carol.address))
    expect(row).toBeDefined()
    expect(row!.lastSignInAt).toBeNull()
    const waiting = await database.db.select().from(notifications).where(eq(notifications.userId, row!.id))
    expect(waiting.map((n) => n.type)).toEqual(['token_transfer_received'])

    const session = await signIn(server.url, carol)
    expect(session.user.id).toBe(String(row!.id))
    const listed = await listNotifications(server, session)
    expect(listed).toHaveLength(1)
    expect(listed[0]).toMatchObject({ type: 'token_transfer_received', seq: 1, read: false })
    expect(listed[0]!.data).toEqual(
      expectedData(sent, {
        token,
        symbol: 'WATCH',
        from: alice.account.address,
        to: carol.address,
        value,
        amount: '3',
      }),
    )

    const socket = await connectAuthenticated(server.wsUrl, session.token)
    socket.send({ type: 'resume', since: 0 })
    const resumed = await socket.next('resumed')
    expect(resumed).toMatchObject({ since: 0, replayed: 1, seq: 1 })
    expect(transferNotices(socket).map((n) => n.id)).toEqual([listed[0]!.id])
    socket.close()
  }, 30_000)

  test('a look-alike token Herald did not deploy notifies no one', async () => {
    const bobSocket = await connectAuthenticated(server.wsUrl, bob.token)
    const impostor = privateKeyToAccount(ANVIL_KEYS[2])
    const fake = await deployDirect(chain.rpcUrl, ANVIL_KEYS[2], {
      name: 'Herald Watch',
      symbol: 'WATCH',
      supply: 1000n * E18,
      recipient: ANVIL_ADDRESSES[2],
    })
    expect(fake).not.toBe(token)
    const fakeTransfers = [
      await transfer(impostor, fake, bob.account.address, 5n * E18),
      await transfer(impostor, fake, alice.account.address, 5n * E18),
    ]
    // A real transfer after them: once it is notified, the watcher has read past the look-alike's.
    const real = await transfer(alice.account, token, bob.account.address, E18)
    await waitForNotice(bobSocket, 'token_transfer_received', real.hash)
    await settle(server, real.blockNumber)

    expect(transferNotices(bobSocket).map((n) => (n.data as TransferData).txHash)).toEqual([real.hash])
    expect(
      await database.db.select().from(tokenTransfers).where(eq(tokenTransfers.tokenAddress, fake)),
    ).toEqual([])
    const fakeHashes = fakeTransfers.map((t) => t.hash)
    expect(
      await database.db.select().from(tokenTransfers).where(inArray(tokenTransfers.txHash, fakeHashes)),
    ).toEqual([])
    expect(
      (await storedTransferNotifications(database.db)).filter((n) => fakeHashes.includes(n.txHash as Hash)),
    ).toEqual([])
    // Nobody was created for the look-alike's deployer either.
    expect(await database.db.select().from(users).where(eq(users.address, ANVIL_ADDRESSES[2]))).toEqual([])
    bobSocket.close()
  }, 30_000)

  test('bounded ranges: transfers spread over many blocks are each notified once, in block order', async () => {
    const watcher = server.herald.testHooks.watcher!
    await watcher.stop()
    const rpc = chain.rpcUrl
    const aliceSocket = await connectAuthenticated(server.wsUrl, alice.token)
    const bobSocket = await connectAuthenticated(server.wsUrl, bob.token)
    const start = await cursorOf(database.db)
    const sends: { sent: Sent; from: Session; to: Session }[] = []
    try {
      sends.push({
        sent: await transfer(alice.account, token, bob.account.address, 1n),
        from: alice,
        to: bob,
      })
      await mine(rpc, 3)
      sends.push({
        sent: await transfer(alice.account, token, bob.account.address, 2n),
        from: alice,
        to: bob,
      })
      await mine(rpc, 4)
      sends.push({
        sent: await transfer(bob.account, token, alice.account.address, 3n),
        from: bob,
        to: alice,
      })
      // Two transfers in one block: logIndex 0 and 1.
      await setAutomine(rpc, false)
      let both: Hash[]
      try {
        both = [
          await sendTransfer(alice.account, token, bob.account.address, 4n),
          await sendTransfer(alice.account, token, bob.account.address, 5n),
        ]
        await mine(rpc, 1)
      } finally {
        await setAutomine(rpc, true)
      }
      for (const hash of both) {
        const receipt = await publicClient().waitForTransactionReceipt({ hash, pollingInterval: 50 })
        sends.push({
          sent: { hash, blockNumber: Number(receipt.blockNumber), logIndex: receipt.logs[0]!.logIndex },
          from: alice,
          to: bob,
        })
      }
      expect(sends[3]!.sent.blockNumber).toBe(sends[4]!.sent.blockNumber)
      expect(sends[4]!.sent.logIndex).toBeGreaterThan(sends[3]!.sent.logIndex)
      await mine(rpc, 2)
      sends.push({
        sent: await transfer(alice.account, token, bob.account.address, 6n),
        from: alice,
        to: bob,
      })
      const last = sends.at(-1)!.sent.blockNumber
      expect(last - start).toBeGreaterThanOrEqual(12)

      // One pass reads at most WATCHER_MAX_BLOCK_RANGE (2) blocks.
      expect(await watcher.poll()).toBe(start + 2)
      expect(await cursorOf(database.db)).toBe(start + 2)
    } finally {
      watcher.start()
    }

    const last = sends.at(-1)!.sent
    await waitForNotice(bobSocket, 'token_transfer_received', last.hash)
    await waitForNotice(aliceSocket, 'token_transfer_sent', last.hash)
    await settle(server, last.blockNumber)

    const order = (n: Notification) => {
      const d = n.data as TransferData
      return [d.blockNumber, d.logIndex] as const
    }
    for (const [session, socket] of [
      [alice, aliceSocket],
      [bob, bobSocket],
    ] as const) {
      const seen = transferNotices(socket)
      const expected = sends.map(({ sent, from }) => ({
        type: from === session ? 'token_transfer_sent' : 'token_transfer_received',
        txHash: sent.hash,
      }))
      expect(seen.map((n) => ({ type: n.type, txHash: (n.data as TransferData).txHash }))).toEqual(expected)
      // Arrival order is block order (then log order), and seq order.
      for (let i = 1; i < seen.length; i++) {
        const [b0, l0] = order(seen[i - 1]!)
        const [b1, l1] = order(seen[i]!)
        expect(b1 > b0 || (b1 === b0 && l1 > l0)).toBe(true)
        expect(seen[i]!.seq).toBe(seen[i - 1]!.seq + 1)
      }
    }
    const rows = await database.db
      .select()
      .from(tokenTransfers)
      .where(
        inArray(
          tokenTransfers.txHash,
          sends.map((s) => s.sent.hash),
        ),
      )
    expect(rows).toHaveLength(sends.length)
    aliceSocket.close()
    bobSocket.close()
  }, 30_000)

  test('a restart resumes at the cursor: nothing is notified again, later transfers once', async () => {
    // Everything so far is told before the stop.
    await settle(server, Number(await publicClient().getBlockNumber({ cacheTime: 0 })))
    const before = await storedTransferNotifications(database.db)
    const aliceSeq = await latestSeq(server, alice)
    const bobSeq = await latestSeq(server, bob)

    // The watcher starts with the server, before any socket can connect: the sockets resume from the last
    // seq seen before the stop, so anything told after it reaches them either way.
    await server.stop()
    server = await startTestServer(env, { database, keepDatabase: true })
    let aliceSocket = await connectResumed(server, alice, aliceSeq)
    let bobSocket = await connectResumed(server, bob, bobSeq)
    await Bun.sleep(QUIET_MS)
    expect(transferNotices(aliceSocket)).toEqual([])
    expect(transferNotices(bobSocket)).toEqual([])
    expect(await storedTransferNotifications(database.db)).toHaveLength(before.length)

    // A transfer made while Herald is down is told once when it comes back.
    await server.stop()
    aliceSocket.close()
    bobSocket.close()
    const whileDown = await transfer(alice.account, token, bob.account.address, 7n * E18)
    server = await startTestServer(env, { database, keepDatabase: true })
    aliceSocket = await connectResumed(server, alice, aliceSeq)
    bobSocket = await connectResumed(server, bob, bobSeq)
    await waitForNotice(bobSocket, 'token_transfer_received', whileDown.hash)
    await waitForNotice(aliceSocket, 'token_transfer_sent', whileDown.hash)

    const after = await transfer(alice.account, token, bob.account.address, 8n * E18)
    await waitForNotice(bobSocket, 'token_transfer_received', after.hash)
    await waitForNotice(aliceSocket, 'token_transfer_sent', after.hash)
    await settle(server, after.blockNumber)
    const hashes = (s: TestSocket) => transferNotices(s).map((n) => (n.data as TransferData).txHash)
    expect(hashes(bobSocket)).toEqual([whileDown.hash, after.hash])
    expect(hashes(aliceSocket)).toEqual([whileDown.hash, after.hash])
    expect(await latestSeq(server, bob)).toBe(bobSeq + 2)
    expect(await latestSeq(server, alice)).toBe(aliceSeq + 2)
    expect(await storedTransferNotifications(database.db)).toHaveLength(before.length + 4)
    aliceSocket.close()
    bobSocket.close()
  }, 30_000)

  test('two watchers on one database notify each transfer once', async () => {
    const twin = await startTestServer(env, { database, keepDatabase: true })
    try {
      expect(twin.herald.testHooks.watcher).not.toBeNull()
      const aliceSocket = await connectAuthenticated(server.wsUrl, alice.token)
      const bobSocket = await connectAuthenticated(twin.wsUrl, bob.token)
      const before = await storedTransferNotifications(database.db)
      const sends: Sent[] = []
      for (let i = 1n; i <= 4n; i++)
        sends.push(await transfer(alice.account, token, bob.account.address, i * E18))
      const hashes = sends.map((s) => s.hash)
      await settle(server, sends.at(-1)!.blockNumber)

      const stored = (await storedTransferNotifications(database.db)).filter((n) =>
        hashes.includes(n.txHash as Hash),
      )
      expect(stored).toHaveLength(hashes.length * 2)
      const keys = stored.map((n) => `${n.userId}:${n.type}:${n.txHash}`)
      expect(new Set(keys).size).toBe(keys.length)
      expect(await storedTransferNotifications(database.db)).toHaveLength(before.length + hashes.length * 2)
      expect(
        await database.db.select().from(tokenTransfers).where(inArray(tokenTransfers.txHash, hashes)),
      ).toHaveLength(hashes.length)
      const bobListed = (await listNotifications(server, bob)).filter((n) =>
        hashes.includes((n.data as TransferData | null)?.txHash as Hash),
      )
      expect(bobListed).toHaveLength(hashes.length)

      // Whichever watcher stored it, a socket on either server hears it once. On PGlite each server has
      // its own in-process bus, so only PostgreSQL's LISTEN/NOTIFY bus promises the crossing.
      const socketHashes = (s: TestSocket) => transferNotices(s).map((n) => (n.data as TransferData).txHash)
      if (usingPostgres()) {
        await until(
          'bob to hear every transfer',
          () => (socketHashes(bobSocket).length >= hashes.length ? true : undefined),
          10_000,
          20,
        )
        await until(
          'alice to hear every transfer',
          () => (socketHashes(aliceSocket).length >= hashes.length ? true : undefined),
          10_000,
          20,
        )
        expect(socketHashes(bobSocket)).toEqual(hashes)
        expect(socketHashes(aliceSocket)).toEqual(hashes)
      } else {
        for (const s of [aliceSocket, bobSocket]) {
          const seen = socketHashes(s)
          expect(new Set(seen).size).toBe(seen.length)
        }
      }
      aliceSocket.close()
      bobSocket.close()
    } finally {
      await twin.stop()
    }
  }, 30_000)

  test('only after the required confirmations', async () => {
    // Its own database (so the main server's single-confirmation watcher cannot tell first), same chain.
    const confirming = await startTestServer({
      ...env,
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[1],
      TX_BLOCK_CONFIRMATIONS_REQUIRED: '2',
    })
    try {
      const carol = await signIn(confirming.url)
      const dave = await signIn(confirming.url)
      await fund(chain.rpcUrl, carol.account.address)
      const { address: confirmed } = await deployThroughHerald(
        confirming,
        carol,
        { name: 'Confirmed', symbol: 'CONF', initialSupply: '100' },
        { mineWhileWaiting: true },
      )
      const carolSocket = await connectAuthenticated(confirming.wsUrl, carol.token)
      const daveSocket = await connectAuthenticated(confirming.wsUrl, dave.token)
      const sent = await transfer(carol.account, confirmed, dave.account.address, 5n * E18)
      expect(Number(await publicClient().getBlockNumber())).toBe(sent.blockNumber)

      // One confirmation (section 8): stored and shown as included at once, told to no one yet.
      const included = await daveSocket.next(
        (m) =>
          m.type === 'data_update' && m.entity === 'transfer' && (m.data as Transfer).txHash === sent.hash,
      )
      expect(included).toMatchObject({ action: 'created', data: { status: 'included', confirmations: 1 } })
      await Bun.sleep(QUIET_MS)
      expect(transferNotices(carolSocket)).toEqual([])
      expect(transferNotices(daveSocket)).toEqual([])
      expect(
        await confirming.database.db
          .select({ status: tokenTransfers.status, confirmations: tokenTransfers.confirmations })
          .from(tokenTransfers)
          .where(eq(tokenTransfers.txHash, sent.hash)),
      ).toEqual([{ status: 'included', confirmations: 1 }])

      await mine(chain.rpcUrl, 1)
      const received = await waitForNotice(daveSocket, 'token_transfer_received', sent.hash)
      await waitForNotice(carolSocket, 'token_transfer_sent', sent.hash)
      expect(received.data).toEqual(
        expectedData(sent, {
          token: confirmed,
          symbol: 'CONF',
          from: carol.account.address,
          to: dave.account.address,
          value: 5n * E18,
          amount: '5',
        }),
      )
      await settle(confirming, sent.blockNumber)
      expect(transferNotices(carolSocket)).toHaveLength(1)
      expect(transferNotices(daveSocket)).toHaveLength(1)
      // The main server never deployed CONF: its watcher ignored it.
      expect(
        await database.db.select().from(tokenTransfers).where(eq(tokenTransfers.tokenAddress, confirmed)),
      ).toEqual([])
      carolSocket.close()
      daveSocket.close()
    } finally {
      await confirming.stop()
    }
  }, 30_000)
})
