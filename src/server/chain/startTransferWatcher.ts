import type { Address } from 'viem'
import { transact } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import type { ErrorReporter } from '../errors'
import type { Metrics } from '../metrics/createMetrics'
import type { NotificationStore } from '../notifications/createNotificationStore'
import {
  recordTransfers,
  removeTransfersAbove,
  type TransferChangeListener,
  type TransferLedger,
  type TransferLog,
} from '../transfers/recordTransfers'
import {
  type BlockHeader,
  cutWindowAbove,
  fetchHeader,
  fetchHeaders,
  findCommonAncestor,
  loadWindowHashes,
  lockWindowState,
  moveCursor,
  readWindowState,
  storeHeaders,
  type WindowState,
} from './chainWindow'
import type { ChainContext } from './connectChain'
import { type RawTransfer, readTransferLogs } from './transferLogs'
import { loadWatchTargets, type WatchTarget } from './watchedContracts'

export { TRANSFER_CURSOR } from './watchedContracts'

export interface TransferWatcherDeps {
  db: Database
  bus: Bus
  notifications: NotificationStore
  chain: ChainContext
  intervalMs: number
  maxBlockRange: number
  /** WATCHER_REORG_WINDOW: blocks below the tip whose hashes are kept to find where a fork happened. */
  reorgWindow: number
  metrics: Pick<Metrics, 'chainReorgs' | 'chainReorgDepth' | 'chainReorgsBeyondWindow' | 'chainWatcherBlock'>
  /** Every change of a transfer, inside its transaction (the `token:<address>` channel feed). */
  onTransferChange?: TransferChangeListener
  onError: ErrorReporter
}

export interface TransferWatcher {
  start(): void
  /** Resolves once the pass in progress, if any, has finished. */
  stop(): Promise<void>
  /** One step now (tests and catch-up); returns the block the cursor reached. */
  poll(): Promise<number | null>
}

interface Step {
  /** The cursor after the step. */
  reached: number
  head: number
  /** False when the step stored nothing (nothing new, or its reads went stale): wait for the next poll. */
  progressed: boolean
  rolledBack?: boolean
}

/**
 * Follows the chain for Transfer events of every watched contract (Herald's own tokens and the registered
 * ERC-20 and ERC-721 contracts) and keeps each transfer's status true to the chain (docs/chain.md).
 *
 * Each poll first checks that the block at its tip is still the chain's (same hash); then it either extends
 * the tip by at most WATCHER_MAX_BLOCK_RANGE blocks (their headers must chain onto the tip by parent hash) or,
 * after a new token rewound the cursor, reads the logs of blocks it already holds. A hash that does not match
 * is a reorganisation: the watcher walks its window down to the highest block the node still has, removes
 * every transfer above it (reverting the notified ones) and reads the new chain from there on the next poll.
 * A fork below the window is reported (onError), counted, and re-scanned from the oldest block kept.
 *
 * Each step commits as one transaction under the cursor row's lock, after checking that the state it read is
 * still current, so two watchers on one database, or a restart at any point, never skip or repeat anything.
 */
export function startTransferWatcher(deps: TransferWatcherDeps): TransferWatcher {
  const { db, bus, chain } = deps
  const { chainId, publicClient: client } = chain
  const window = deps.reorgWindow
  const ledger: TransferLedger = {
    chainId,
    confirmations: chain.confirmations,
    notifications: deps.notifications,
    onTransferChange: deps.onTransferChange ?? (() => {}),
  }
  let timer: Timer | null = null
  let running: Promise<unknown> | null = null
  let active = false

  // Uncached: the client caches the block number for its polling interval (2 s on a remote chain), which
  // would hold the watcher that long behind WATCHER_INTERVAL_MS and make poll() read a stale head.
  const readHead = async () => Number(await client.getBlockNumber({ cacheTime: 0 }))

  /** A first start reads from the earliest watched contract's first block, or from the next block. */
  const startAt = async (head: number) => {
    const targets = [...(await loadWatchTargets(db, chainId)).values()]
    return Math.min(head, ...targets.map((target) => target.fromBlock - 1))
  }

  const step = async (): Promise<Step> => {
    const head = await readHead()
    const state = await readWindowState(db, chainId, () => startAt(head))
    const idle = { reached: state.cursor, head, progressed: false }
    if (state.tipHash !== null) {
      const at = Math.min(head, state.tip)
      const kept = at === state.tip ? state.tipHash : (await loadWindowHashes(db, chainId)).get(at)
      if (kept !== undefined && (await fetchHeader(client, at)).hash !== kept) return rollBack(state, head)
      // A node behind the tip (another node behind a load balancer, say): wait until it catches up.
      if (head < state.tip) return idle
    }
    if (state.cursor < state.tip) return catchUp(state, head)
    return extend(state, head)
  }

  const rollBack = async (state: WindowState, head: number): Promise<Step> => {
    const kept = await loadWindowHashes(db, chainId)
    const ancestor = await findCommonAncestor(client, kept, Math.min(head, state.tip))
    // Below the window nothing is known: start again from the oldest block kept.
    const forkAt = ancestor ?? (state.oldest ?? state.tip) - 1
    const reached = Math.min(state.cursor, forkAt)
    const done = await transact(db, bus, async (transaction) => {
      if (!(await lockWindowState(transaction.tx, chainId, state))) return false
      await cutWindowAbove(transaction.tx, chainId, forkAt)
      await moveCursor(transaction.tx, chainId, reached)
      await removeTransfersAbove(transaction, ledger, forkAt)
      return true
    })
    if (!done) return { reached: state.cursor, head, progressed: false }
    deps.metrics.chainWatcherBlock.set(forkAt)
    deps.metrics.chainReorgs.inc()
    deps.metrics.chainReorgDepth.observe(state.tip - forkAt)
    if (ancestor === null) {
      deps.metrics.chainReorgsBeyondWindow.inc()
      deps.onError(
        new Error(
          `chain ${chainId} reorganised below the ${window} blocks kept under block ${state.tip}: ` +
            `transfers from block ${forkAt + 1} are re-read; any removed below it went unseen`,
        ),
        'transfer watcher',
      )
    }
    return { reached, head, progressed: true, rolledBack: true }
  }

  /** Logs of blocks the window already holds (a new token rewound the cursor to its deployment). */
  const catchUp = async (state: WindowState, head: number): Promise<Step> => {
    const from = state.cursor + 1
    const to = Math.min(state.tip, state.cursor + deps.maxBlockRange)
    const targets = await loadWatchTargets(db, chainId)
    const logs = await readLogs(targets, from, to)
    const kept = await loadWindowHashes(db, chainId)
    // A log of a block the window has with another hash: the chain is moving; the next poll's check sees how.
    if (logs.some((log) => kept.has(log.blockNumber) && kept.get(log.blockNumber) !== log.blockHash))
      return { reached: state.cursor, head, progressed: false }
    return commit(state, head, { targets, logs, to, tip: state.tip, headers: [] })
  }

  /** The next blocks after the tip: their headers, chained by parent hash, and their logs. */
  const extend = async (state: WindowState, head: number): Promise<Step> => {
    const from = state.tip + 1
    const to = Math.min(head, state.tip + deps.maxBlockRange)
    if (from > to) return { reached: state.cursor, head, progressed: false }
    // Only the blocks that stay in the window are kept; the first one links the range to the tip.
    const keepFrom = Math.max(from, to - window)
    const numbers = [from, ...Array.from({ length: to - keepFrom + 1 }, (_, i) => keepFrom + i)]
    const headers = await fetchHeaders(client, [...new Set(numbers)])
    if (state.tipHash !== null && headers.get(from)!.parentHash !== state.tipHash)
      return rollBack(state, head)
    for (let number = keepFrom + 1; number <= to; number++)
      if (headers.get(number)!.parentHash !== headers.get(number - 1)!.hash)
        return { reached: state.cursor, head, progressed: false }
    const targets = await loadWatchTargets(db, chainId)
    const logs = await readLogs(targets, from, to)
    // Logs read after the headers, from a chain that moved in between: read both again next poll.
    if (
      logs.some((log) => headers.has(log.blockNumber) && headers.get(log.blockNumber)!.hash !== log.blockHash)
    )
      return { reached: state.cursor, head, progressed: false }
    return commit(state, head, { targets, logs, to, tip: to, headers: [...headers.values()] })
  }

  const commit = async (
    state: WindowState,
    head: number,
    read: {
      targets: Map<Address, WatchTarget>
      logs: RawTransfer[]
      to: number
      tip: number
      headers: BlockHeader[]
    },
  ): Promise<Step> => {
    const done = await transact(db, bus, async (transaction) => {
      const { tx } = transaction
      if (!(await lockWindowState(tx, chainId, state))) return false
      // A contract registered, or a token deployed, after the targets were read, that this range should
      // have covered: read again with it.
      if (!sameTargets(read.targets, await loadWatchTargets(tx, chainId), read.to)) return false
      if (read.headers.length > 0) await storeHeaders(tx, chainId, read.headers, read.tip - window)
      await recordTransfers(transaction, ledger, transferLogs(read.logs, read.targets), read.tip)
      await moveCursor(tx, chainId, read.to)
      return true
    })
    if (!done) return { reached: state.cursor, head, progressed: false }
    deps.metrics.chainWatcherBlock.set(read.tip)
    return { reached: read.to, head, progressed: true }
  }

  const readLogs = (targets: Map<Address, WatchTarget>, from: number, to: number) =>
    readTransferLogs(client, {
      addresses: [...targets.values()].filter((t) => t.fromBlock <= to).map((t) => t.address),
      fromBlock: from,
      toBlock: to,
    })

  const tick = async () => {
    timer = null
    try {
      // Catch up in bounded steps while behind; after a reorganisation, read the new chain at the next poll.
      for (let i = 0; i < 20 && active; i++) {
        const { reached, head, progressed, rolledBack } = await step()
        if (!progressed || rolledBack || reached >= head) break
      }
    } catch (error) {
      deps.onError(error, 'transfer watcher pass')
    }
    if (active)
      timer = setTimeout(() => {
        running = tick()
      }, deps.intervalMs)
  }

  return {
    start() {
      if (active) return
      active = true
      running = tick()
    },
    async stop() {
      active = false
      if (timer) clearTimeout(timer)
      timer = null
      await running
    },
    poll: async () => (await step()).reached,
  }
}

/** The logs of watched contracts from their first block, of the standard they were registered as. */
function transferLogs(logs: readonly RawTransfer[], targets: Map<Address, WatchTarget>): TransferLog[] {
  const kept: TransferLog[] = []
  for (const log of logs) {
    const target = targets.get(log.address)
    if (!target || log.blockNumber < target.fromBlock || log.standard !== target.standard) continue
    kept.push({
      token: log.address,
      standard: log.standard,
      from: log.from,
      to: log.to,
      value: log.value,
      tokenId: log.tokenId,
      symbol: target.symbol,
      decimals: target.decimals,
      txHash: log.txHash,
      logIndex: log.logIndex,
      blockNumber: log.blockNumber,
      blockHash: log.blockHash,
    })
  }
  return kept
}

/** The same contracts, read from the same blocks, as far as blocks up to `to` go. */
function sameTargets(before: Map<Address, WatchTarget>, now: Map<Address, WatchTarget>, to: number): boolean {
  const relevant = (targets: Map<Address, WatchTarget>) =>
    [...targets.values()]
      .filter((target) => target.fromBlock <= to)
      .map((target) => `${target.address}:${target.standard}:${target.fromBlock}`)
      .sort()
      .join(',')
  return relevant(before) === relevant(now)
}
