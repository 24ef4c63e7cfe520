import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Address } from 'viem'
import { ANVIL_KEYS, mine, reorg, type TestChain } from '../../../test/helpers/anvil'
import {
  expectToldAsTheChainSays,
  publicClientOf,
  sendTokenTransfer,
  storedTransferNotices,
  transferUpdates,
  waitForUpdate,
  watchContract,
  watcherAtHead,
} from '../../../test/helpers/chainEvents'
import { recordTimeline } from '../../../test/helpers/chainTimeline'
import { until } from '../../../test/helpers/drill'
import { metricValue } from '../../../test/helpers/metrics'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, newAccount, type Session, signIn } from '../../../test/helpers/wallet'
import { startWatchedToken, type WatchedToken } from '../../../test/helpers/watchedToken'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import { createHttpApi } from '../../client/sdk/createHttpApi'
import type { ListTransfersResponse, Notification, Transfer } from '../../shared/protocol'

/**
 * Transfers through reorganisations (docs/protocol.md §8, docs/chain.md), on a real anvil: `anvil_reorg`
 * replaces the last blocks (the transfers in them vanish unless its block list puts them back), and the
 * watcher must follow: included → updated → confirmed with one pair of notifications, or reorged with none,
 * and a revert notice for a transfer removed after it was told. PGlite by default, PostgreSQL with
 * HERALD_TEST_DATABASE_URL.
 */

const CONFIRMATIONS = 3
const E18 = 10n ** 18n

let chain: TestChain
let server: TestServer
let env: Record<string, string>
let alice: Session
let bob: Session
/** A HeraldToken deployed outside Herald (1,000,000 to alice) and registered as a watched ERC-20. */
let token: Address
let registeredFrom: number

const rpc = () => chain.rpcUrl
const head = async () => Number(await publicClientOf(rpc()).getBlockNumber({ cacheTime: 0 }))

async function transfersOf(target: TestServer, session: Session, query = ''): Promise<ListTransfersResponse> {
  const response = await fetch(`${target.url}/api/transfers${query}`, { headers: bearer(session.token) })
  expect(response.status).toBe(200)
  return (await response.json()) as ListTransfersResponse
}

const noticesOf = async (target: TestServer, txHash: string) =>
  (await storedTransferNotices(target.database.db)).filter((n) => n.txHash === txHash)

/** A notification of one type and transaction on a socket, once it arrives. */
const waitForNotice = (socket: TestSocket, type: string, txHash: string) =>
  until(`${type} for ${txHash}`, () =>
    socket.messages
      .filter((m) => m.type === 'notification')
      .map((m) => (m as { notification: Notification }).notification)
      .find((n) => n.type === type && (n.data as { txHash: string }).txHash === txHash),
  )

/** The invariant, on everything `target` has seen of the token since its registration. */
const told = (target: TestServer) =>
  expectToldAsTheChainSays(
    target.database.db,
    rpc(),
    { token, fromBlock: registeredFrom, confirmations: CONFIRMATIONS },
    expect,
  )

let fixture: WatchedToken

beforeAll(async () => {
  fixture = await startWatchedToken({
    confirmations: CONFIRMATIONS,
    symbol: 'ORG',
    supply: 1_000_000n * E18,
    toBob: 1000n * E18,
  })
  ;({ chain, env, server, alice, bob, token, registeredFrom } = fixture)
}, 60_000)

afterAll(() => fixture?.stop(), 30_000)

describe(`transfers through reorganisations (${usingPostgres() ? 'PostgreSQL' : 'PGlite'})`, () => {
  test('included, then reorganised out before its confirmations: reorged, and no one is told', async () => {
    const bobSocket = await connectAuthenticated(server.wsUrl, bob.token)
    const sent = await sendTokenTransfer(rpc(), alice.account, token, bob.account.address, 5n * E18)
    const created = await waitForUpdate(bobSocket, sent.hash, (u) => u.action === 'created')
    expect(created.transfer).toEqual({
      id: expect.any(String),
      token,
      standard: 'erc20',
      from: alice.account.address,
      to: bob.account.address,
      value: (5n * E18).toString(),
      txHash: sent.hash,
      logIndex: sent.logIndex,
      blockNumber: sent.blockNumber,
      blockHash: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      status: 'included',
      confirmations: 1,
      updatedAt: expect.any(String),
    })

    // The block that holds it is replaced by one that does not.
    await reorg(rpc(), 1)
    const removed = await waitForUpdate(bobSocket, sent.hash, (u) => u.action === 'deleted')
    expect(removed.transfer).toMatchObject({
      id: created.transfer.id,
      status: 'reorged',
      confirmations: 0,
      blockNumber: sent.blockNumber,
      blockHash: created.transfer.blockHash,
    })
    await mine(rpc(), CONFIRMATIONS + 1)
    await watcherAtHead(server.database.db, rpc())
    expect(await noticesOf(server, sent.hash)).toEqual([])
    expect(transferUpdates(bobSocket, sent.hash).map((u) => u.action)).toEqual(['created', 'deleted'])
    const listed = (await transfersOf(server, bob)).transfers.find((t) => t.txHash === sent.hash)
    expect(listed).toMatchObject({ id: created.transfer.id, status: 'reorged' })
    await told(server)
    bobSocket.close()
  }, 30_000)

  test('reorganised out and put back at another height by the reorganisation: one transfer, one pair of notifications', async () => {
    const aliceSocket = await connectAuthenticated(server.wsUrl, alice.token)
    const bobSocket = await connectAuthenticated(server.wsUrl, bob.token)
    // Anyone may follow the token's channel: every change of the transfer is published there too.
    const feed = connectSocket(server.wsUrl)
    await feed.opened
    await feed.next('connected')
    feed.send({ type: 'subscribe', channel: `token:${token}` })
    await feed.next('subscribed')
    const timeline = recordTimeline(bobSocket)
    const value = 7n * E18
    const sent = await sendTokenTransfer(rpc(), alice.account, token, bob.account.address, value)
    timeline.chain(`transfer mined in block ${sent.blockNumber}`, sent.blockNumber)
    await waitForUpdate(bobSocket, sent.hash, (u) => u.action === 'created')
    await mine(rpc(), 1)
    timeline.chain(`block ${sent.blockNumber + 1} mined`, sent.blockNumber + 1)
    await waitForUpdate(bobSocket, sent.hash, (u) => u.transfer.confirmations === 2)

    // Both blocks are replaced; the transfer comes back in the upper one.
    await reorg(rpc(), 2, [[sent.raw, 1]])
    const moved = await publicClientOf(rpc()).getTransactionReceipt({ hash: sent.hash })
    expect(Number(moved.blockNumber)).toBe(sent.blockNumber + 1)
    timeline.chain(
      `reorganisation: ${sent.blockNumber}–${sent.blockNumber + 1} replaced, transfer now in ${sent.blockNumber + 1}`,
      sent.blockNumber + 1,
    )
    const back = await waitForUpdate(
      bobSocket,
      sent.hash,
      (u) => u.action === 'created' && u.transfer.blockNumber === sent.blockNumber + 1,
    )
    for (let confirmations = 2; confirmations <= CONFIRMATIONS; confirmations++) {
      await mine(rpc(), 1)
      timeline.chain(`block ${sent.blockNumber + confirmations} mined`, sent.blockNumber + confirmations)
      await waitForUpdate(
        bobSocket,
        sent.hash,
        (u) => u.transfer.confirmations === confirmations && u.transfer.blockNumber === sent.blockNumber + 1,
      )
    }
    const received = await waitForNotice(bobSocket, 'token_transfer_received', sent.hash)
    await waitForNotice(aliceSocket, 'token_transfer_sent', sent.hash)
    await mine(rpc(), 1)
    await watcherAtHead(server.database.db, rpc())

    // One transfer (one id) through all of it, and what bob saw, step by step.
    const steps = transferUpdates(bobSocket, sent.hash).map((u) => ({
      action: u.action,
      id: u.transfer.id,
      status: u.transfer.status,
      confirmations: u.transfer.confirmations,
      blockNumber: u.transfer.blockNumber,
    }))
    const id = back.transfer.id
    const b = sent.blockNumber
    expect(steps).toEqual([
      { action: 'created', id, status: 'included', confirmations: 1, blockNumber: b },
      { action: 'updated', id, status: 'included', confirmations: 2, blockNumber: b },
      { action: 'deleted', id, status: 'reorged', confirmations: 0, blockNumber: b },
      { action: 'created', id, status: 'included', confirmations: 1, blockNumber: b + 1 },
      { action: 'updated', id, status: 'included', confirmations: 2, blockNumber: b + 1 },
      { action: 'updated', id, status: 'confirmed', confirmations: 3, blockNumber: b + 1 },
    ])
    const published = feed.messages
      .filter((m) => m.type === 'publication')
      .map((m) => (m as { data: { action: string; transfer: Transfer } }).data)
      .filter((d) => d.transfer.txHash === sent.hash)
      .map(({ action, transfer }) => ({
        action,
        id: transfer.id,
        status: transfer.status,
        confirmations: transfer.confirmations,
        blockNumber: transfer.blockNumber,
      }))
    expect(published).toEqual(steps)
    feed.close()
    const notices = await noticesOf(server, sent.hash)
    expect(notices.map((n) => n.type).sort()).toEqual(['token_transfer_received', 'token_transfer_sent'])
    expect(received.data).toEqual({
      token,
      symbol: 'ORG',
      standard: 'erc20',
      from: alice.account.address,
      to: bob.account.address,
      value: value.toString(),
      amount: '7',
      txHash: sent.hash,
      logIndex: sent.logIndex,
      blockNumber: b + 1,
    })
    await told(server)
    timeline.save({ confirmations: CONFIRMATIONS, txHash: sent.hash })
    aliceSocket.close()
    bobSocket.close()
  }, 30_000)

  test('a reorganisation deeper than the confirmations, after the notifications: one revert each, naming the originals', async () => {
    const aliceSocket = await connectAuthenticated(server.wsUrl, alice.token)
    const bobSocket = await connectAuthenticated(server.wsUrl, bob.token)
    const sent = await sendTokenTransfer(rpc(), alice.account, token, bob.account.address, 3n * E18)
    await mine(rpc(), CONFIRMATIONS - 1)
    const received = await waitForNotice(bobSocket, 'token_transfer_received', sent.hash)
    const paid = await waitForNotice(aliceSocket, 'token_transfer_sent', sent.hash)

    await reorg(rpc(), CONFIRMATIONS + 1)
    const bobRevert = await waitForNotice(bobSocket, 'token_transfer_reverted', sent.hash)
    const aliceRevert = await waitForNotice(aliceSocket, 'token_transfer_reverted', sent.hash)
    expect(bobRevert.data).toEqual({ ...(received.data as object), revertsNotificationId: received.id })
    expect(aliceRevert.data).toEqual({ ...(paid.data as object), revertsNotificationId: paid.id })
    expect(bobRevert.title).toContain('Reverted')
    const removed = await waitForUpdate(bobSocket, sent.hash, (u) => u.action === 'deleted')
    expect(removed.transfer).toMatchObject({
      status: 'reorged',
      confirmations: 0,
      blockNumber: sent.blockNumber,
    })

    await mine(rpc(), CONFIRMATIONS)
    await watcherAtHead(server.database.db, rpc())
    expect((await noticesOf(server, sent.hash)).map((n) => n.type)).toEqual([
      'token_transfer_received',
      'token_transfer_sent',
      'token_transfer_reverted',
      'token_transfer_reverted',
    ])
    const listed = (await transfersOf(server, alice)).transfers.find((t) => t.txHash === sent.hash)
    expect(listed?.status).toBe('reorged')
    expect(await metricValue(server.url, 'herald_chain_reorgs_total')).toBeGreaterThanOrEqual(3)
    await told(server)
    aliceSocket.close()
    bobSocket.close()
  }, 30_000)

  test('a reorganisation deeper than the window is reported, counted, and re-read from the oldest block kept', async () => {
    // Its own server and database: two blocks of confirmations, hashes kept for three blocks below the tip.
    const narrow = await startTestServer({
      ...env,
      TX_BLOCK_CONFIRMATIONS_REQUIRED: '2',
      WATCHER_REORG_WINDOW: '3',
    })
    try {
      expect((await watchContract(narrow.url, token, 'erc20')).status).toBe(201)
      const from = (await head()) + 1
      await mine(rpc(), 1)
      const sent = await sendTokenTransfer(rpc(), alice.account, token, bob.account.address, 2n * E18)
      await mine(rpc(), 2)
      await watcherAtHead(narrow.database.db, rpc())
      // The main watcher too, so it has recorded this transfer before the reorganisation takes it out (the
      // listing test below counts it); on a busy machine it can otherwise still be a few blocks behind.
      await watcherAtHead(server.database.db, rpc())
      expect((await noticesOf(narrow, sent.hash)).map((n) => n.type)).toEqual([
        'token_transfer_received',
        'token_transfer_sent',
      ])
      expect(await metricValue(narrow.url, 'herald_chain_reorgs_beyond_window_total')).toBe(0)

      // Six blocks replaced: the fork is below the four the narrow watcher keeps.
      await reorg(rpc(), 6)
      await until('the deep reorganisation to be counted', async () =>
        (await metricValue(narrow.url, 'herald_chain_reorgs_beyond_window_total')) === 1 ? true : undefined,
      )
      await mine(rpc(), 2)
      await watcherAtHead(narrow.database.db, rpc())
      expect((await noticesOf(narrow, sent.hash)).map((n) => n.type)).toEqual([
        'token_transfer_received',
        'token_transfer_sent',
        'token_transfer_reverted',
        'token_transfer_reverted',
      ])
      await expectToldAsTheChainSays(
        narrow.database.db,
        rpc(),
        { token, fromBlock: from, confirmations: 2 },
        expect,
      )
      // The main watcher (128 blocks kept) followed the same reorganisation exactly.
      await watcherAtHead(server.database.db, rpc())
      expect(await metricValue(server.url, 'herald_chain_reorgs_beyond_window_total')).toBe(0)
      await told(server)
    } finally {
      await narrow.stop()
    }
  }, 30_000)

  test('GET /api/transfers: the caller’s own, newest first, paged, by token; GET /api/chain', async () => {
    const all = await transfersOf(server, bob, '?limit=100')
    expect(all.nextBefore).toBeNull()
    expect(all.transfers.length).toBeGreaterThanOrEqual(5)
    const ids = all.transfers.map((t) => Number(t.id))
    expect(ids).toEqual([...ids].sort((a, b) => b - a))
    for (const transfer of all.transfers) expect([transfer.from, transfer.to]).toContain(bob.account.address)
    expect(new Set(all.transfers.map((t) => t.status))).toEqual(new Set(['confirmed', 'reorged']))

    const first = await transfersOf(server, bob, '?limit=2')
    expect(first.transfers).toEqual(all.transfers.slice(0, 2))
    expect(first.nextBefore).toBe(all.transfers[1]!.id)
    const second = await transfersOf(server, bob, `?limit=2&before=${first.nextBefore}`)
    expect(second.transfers).toEqual(all.transfers.slice(2, 4))
    expect((await transfersOf(server, bob, `?token=${token.toLowerCase()}&limit=100`)).transfers).toEqual(
      all.transfers,
    )
    expect((await transfersOf(server, bob, `?token=${ANVIL_KEYS[0].slice(0, 42)}`)).transfers).toEqual([])
    const stranger = await signIn(server.url, newAccount())
    expect(await transfersOf(server, stranger)).toEqual({ transfers: [], nextBefore: null })

    for (const query of ['?limit=0', '?limit=101', '?before=abc', '?before=0', '?token=0x123']) {
      const response = await fetch(`${server.url}/api/transfers${query}`, { headers: bearer(bob.token) })
      expect(response.status).toBe(422)
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('INVALID_INPUT')
    }
    expect((await fetch(`${server.url}/api/transfers`)).status).toBe(401)

    const info = await (await fetch(`${server.url}/api/chain`)).json()
    expect(info).toEqual({ chainId: 31337, requiredConfirmations: CONFIRMATIONS, reorgWindow: 128 })

    // The SDK's typed calls for both.
    const api = createHttpApi({ url: server.url, token: () => bob.token })
    expect(await api.transfers.list({ limit: 2 })).toEqual(first)
    expect(await api.transfers.list({ limit: 2, before: first.nextBefore! })).toEqual(second)
    expect(await api.chain.info()).toEqual(info)
  }, 30_000)
})
