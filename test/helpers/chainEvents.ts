import { and, asc, eq, like } from 'drizzle-orm'
import {
  type Address,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type PrivateKeyAccount,
  parseAbiItem,
  zeroAddress,
} from 'viem'
import { foundry } from 'viem/chains'
import { heraldTokenAbi } from '../../src/server/chain/heraldToken'
import { TRANSFER_CURSOR } from '../../src/server/chain/watchedContracts'
import type { Database } from '../../src/server/db/openDatabase'
import { chainBlocks, chainCursors, notifications, tokenTransfers } from '../../src/server/db/schema'
import type { DataUpdateMessage, Transfer } from '../../src/shared/protocol'
import { rawTransaction } from './anvil'
import { until } from './drill'
import { ADMIN_KEY } from './testServer'
import type { TestSocket } from './wsClient'

// What the chain-event tests share: sending transfers, waiting for the watcher, reading what it stored and
// told, and the one invariant every reorganisation test ends with (expectToldAsTheChainSays).

export const publicClientOf = (rpcUrl: string) =>
  createPublicClient({ chain: foundry, transport: http(rpcUrl), pollingInterval: 50 })

export interface SentTransfer {
  hash: Hex
  blockNumber: number
  logIndex: number
  /** The signed bytes, to put the transaction back after a reorganisation. */
  raw: Hex
}

/** `token.transfer(to, value)` from `from`, mined (the chain automines). */
export async function sendTokenTransfer(
  rpcUrl: string,
  from: PrivateKeyAccount,
  token: Address,
  to: Address,
  value: bigint,
): Promise<SentTransfer> {
  const wallet = createWalletClient({ account: from, chain: foundry, transport: http(rpcUrl) })
  const hash = await wallet.writeContract({
    address: token,
    abi: heraldTokenAbi,
    functionName: 'transfer',
    args: [to, value],
  })
  const receipt = await publicClientOf(rpcUrl).waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`transfer ${hash} reverted`)
  return {
    hash,
    blockNumber: Number(receipt.blockNumber),
    logIndex: receipt.logs[0]!.logIndex,
    raw: await rawTransaction(rpcUrl, hash),
  }
}

/** POST /api/admin/watched-contracts, as another backend would call it. */
export function watchContract(url: string, address: string, standard: string, key = ADMIN_KEY) {
  return fetch(`${url}/api/admin/watched-contracts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ address, standard }),
  })
}

/** Until the watcher has read the chain up to its head (the same block, by hash) and committed it all. */
export async function watcherAtHead(db: Database, rpcUrl: string, timeoutMs = 15_000): Promise<number> {
  const client = publicClientOf(rpcUrl)
  return until(
    'the transfer watcher to reach the head of the chain',
    async () => {
      const head = await client.getBlock({ blockTag: 'latest' })
      const number = Number(head.number)
      const [cursor] = await db
        .select({ block: chainCursors.block })
        .from(chainCursors)
        .where(eq(chainCursors.name, TRANSFER_CURSOR))
      const [kept] = await db.select().from(chainBlocks).where(eq(chainBlocks.number, number))
      return cursor?.block === number && kept?.hash === head.hash ? number : undefined
    },
    timeoutMs,
  )
}

/** The transfer `data_update` messages a socket received, optionally of one transaction, in order. */
export function transferUpdates(socket: TestSocket, txHash?: string) {
  return socket.messages
    .filter((m): m is DataUpdateMessage => m.type === 'data_update' && m.entity === 'transfer')
    .map((m) => ({ action: m.action, transfer: m.data as Transfer }))
    .filter((u) => txHash === undefined || u.transfer.txHash === txHash)
}

/** Until the socket has a transfer update of `txHash` that `match` accepts; returns it. */
export function waitForUpdate(
  socket: TestSocket,
  txHash: string,
  match: (update: ReturnType<typeof transferUpdates>[number]) => boolean,
  timeoutMs = 10_000,
) {
  return until(
    `a transfer update of ${txHash}; got ${JSON.stringify(transferUpdates(socket, txHash))}`,
    () => transferUpdates(socket, txHash).find(match),
    timeoutMs,
  )
}

export interface StoredNotice {
  id: number
  userId: number
  type: string
  txHash: string
  logIndex: number
  revertsNotificationId: string | undefined
}

/** Every transfer notification stored (received, sent, reverted), oldest first. */
export async function storedTransferNotices(db: Database): Promise<StoredNotice[]> {
  const rows = await db
    .select()
    .from(notifications)
    .where(like(notifications.type, 'token_transfer_%'))
    .orderBy(asc(notifications.id))
  return rows.map((row) => {
    const data = row.data as { txHash: string; logIndex: number; revertsNotificationId?: string }
    return {
      id: row.id,
      userId: row.userId,
      type: row.type,
      txHash: data.txHash,
      logIndex: data.logIndex,
      revertsNotificationId: data.revertsNotificationId,
    }
  })
}

const transferEvent = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)')

/**
 * The invariant of docs/chain.md, checked against the chain as it is now (call it once the watcher is at the
 * head): every Transfer log of `token` on the chain from `fromBlock` has its row, `confirmed` with enough
 * blocks above it and `included` otherwise; every other row is `reorged`. Per transfer and party, the
 * notifications alternate — told, reverted (naming the one told just before), told … — starting with a
 * notice, and end with a notice exactly when the transfer is confirmed on this chain; mints and burns tell
 * no one. So the notices standing (never reverted) are exactly the confirmed transfers, and there is one
 * revert for each time a told transfer was removed. Returns counts for the caller's own checks.
 */
export async function expectToldAsTheChainSays(
  db: Database,
  rpcUrl: string,
  params: { token: Address; fromBlock: number; confirmations: number },
  expect: (value: unknown) => { toEqual(expected: unknown): void; toBe(expected: unknown): void },
) {
  const client = publicClientOf(rpcUrl)
  const head = Number(await client.getBlockNumber({ cacheTime: 0 }))
  const logs = await client.getLogs({
    address: params.token,
    event: transferEvent,
    fromBlock: BigInt(params.fromBlock),
    toBlock: BigInt(head),
  })
  const onChain = new Map(logs.map((log) => [`${log.transactionHash}:${log.logIndex}`, log]))
  const rows = await db.select().from(tokenTransfers).where(eq(tokenTransfers.tokenAddress, params.token))
  const rowKeys = new Set(rows.map((row) => `${row.txHash}:${row.logIndex}`))
  expect([...onChain.keys()].filter((key) => !rowKeys.has(key))).toEqual([])
  const notices = await storedTransferNotices(db)
  const byId = new Map(notices.map((notice) => [notice.id, notice]))
  let confirmed = 0
  let reverts = 0
  let told = 0
  for (const row of rows) {
    const key = `${row.txHash}:${row.logIndex}`
    const log = onChain.get(key)
    const final = log !== undefined && head - Number(log.blockNumber) + 1 >= params.confirmations
    const state = { key, status: row.status, blockNumber: row.blockNumber, blockHash: row.blockHash }
    expect(state).toEqual({
      key,
      status: log === undefined ? 'reorged' : final ? 'confirmed' : 'included',
      blockNumber: log === undefined ? row.blockNumber : Number(log.blockNumber),
      blockHash: log === undefined ? row.blockHash : log.blockHash,
    })
    const mine = notices.filter((n) => n.txHash === row.txHash && n.logIndex === row.logIndex)
    const mintOrBurn = row.fromAddress === zeroAddress || row.toAddress === zeroAddress
    if (mintOrBurn) {
      expect({ key, notices: mine.length }).toEqual({ key, notices: 0 })
      continue
    }
    if (final) confirmed++
    for (const side of ['received', 'sent'] as const) {
      // A revert belongs to the side of the notice it names.
      const sideOf = (n: StoredNotice): string =>
        n.type === 'token_transfer_reverted'
          ? sideOf(byId.get(Number(n.revertsNotificationId))!)
          : n.type.replace('token_transfer_', '')
      const sequence = mine.filter((n) => sideOf(n) === side)
      const shape = sequence.map((n, i) =>
        n.type === 'token_transfer_reverted'
          ? Number(n.revertsNotificationId) === sequence[i - 1]?.id
            ? 'reverted'
            : `reverted(${n.revertsNotificationId}, expected ${sequence[i - 1]?.id})`
          : 'told',
      )
      const expected = shape.map((_, i) => (i % 2 === 0 ? 'told' : 'reverted'))
      if (final && expected.at(-1) !== 'told') expected.push('told')
      if (!final && expected.at(-1) === 'told') expected.push('reverted')
      expect({ key, side, shape }).toEqual({ key, side, shape: expected })
      told += shape.filter((s) => s === 'told').length
      reverts += shape.filter((s) => s !== 'told').length
    }
  }
  // The counting form of the same: standing notices = 2 per confirmed transfer, one revert per removal.
  expect(told - reverts).toBe(confirmed * 2)
  return { head, transfers: rows.length, confirmed, told, reverts }
}

/** Stored transfers by (transaction, log index), for comparing two databases that watched one chain. */
export async function transferStates(db: Database, token: Address) {
  const rows = await db
    .select()
    .from(tokenTransfers)
    .where(and(eq(tokenTransfers.tokenAddress, token)))
    .orderBy(asc(tokenTransfers.txHash), asc(tokenTransfers.logIndex))
  return rows.map((row) => ({
    key: `${row.txHash}:${row.logIndex}`,
    status: row.status,
    blockNumber: row.blockNumber,
    blockHash: row.blockHash,
    confirmations: row.confirmations,
  }))
}
