import { and, eq, max, sql } from 'drizzle-orm'
import {
  type Hex,
  keccak256,
  TransactionNotFoundError,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  WaitForTransactionReceiptTimeoutError,
} from 'viem'
import type { Database } from '../db/openDatabase'
import { chainTransactions } from '../db/schema'
import type { ChainContext } from './connectChain'

export interface RecordedTransaction {
  hash: Hex
  nonce: number
  raw: Hex
}

/**
 * Sends a transaction at most once per job and key. The transaction is signed and stored (hash, raw bytes, nonce)
 * before it is broadcast; a retried job finds it and broadcasts the same bytes again if the node has lost
 * them, so a crash at any point can never produce a second transaction. Nonces are allocated under an
 * advisory lock from max(chain's pending nonce, last stored + 1), so concurrent jobs in any number of worker
 * processes never collide.
 */
export async function sendRecordedTransaction(
  db: Database,
  chain: ChainContext,
  params: { jobId: number; key?: string; data?: Hex; to?: Hex; value?: bigint; signal?: AbortSignal },
): Promise<RecordedTransaction> {
  const account = chain.deployer
  if (!account) throw new Error('This process has no deployer key.')
  const key = params.key ?? DEPLOY_KEY
  const value = params.value ?? 0n
  const existing = await findRecorded(db, params.jobId, key)
  if (existing) {
    await ensureBroadcast(chain, existing)
    return existing
  }
  // Estimation runs the transaction: a reverting deployment fails here, before any nonce is taken.
  const gas = await chain.publicClient.estimateGas({ account, data: params.data, to: params.to, value })
  const fees = await chain.publicClient.estimateFeesPerGas()
  const chainNonce = await chain.publicClient.getTransactionCount({
    address: account.address,
    blockTag: 'pending',
  })
  const from = account.address
  const recorded = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`herald-nonce:${chain.chainId}:${from}`}))`)
    const [again] = await tx
      .select()
      .from(chainTransactions)
      .where(and(eq(chainTransactions.jobId, params.jobId), eq(chainTransactions.key, key)))
    if (again) return { hash: again.hash as Hex, nonce: again.nonce, raw: again.raw as Hex }
    const [last] = await tx
      .select({ nonce: max(chainTransactions.nonce) })
      .from(chainTransactions)
      .where(and(eq(chainTransactions.chainId, chain.chainId), eq(chainTransactions.fromAddress, from)))
    // The last moment a cancellation stops it: once recorded, the transaction is sent, now or by the retry.
    params.signal?.throwIfAborted()
    const nonce = Math.max(chainNonce, (last?.nonce ?? -1) + 1)
    const raw = await account.signTransaction({
      type: 'eip1559',
      chainId: chain.chainId,
      nonce,
      gas: (gas * 12n) / 10n,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      data: params.data,
      to: params.to ?? null,
      value,
    })
    const hash = keccak256(raw)
    await tx.insert(chainTransactions).values({
      chainId: chain.chainId,
      fromAddress: from,
      nonce,
      hash,
      raw,
      jobId: params.jobId,
      key,
    })
    return { hash, nonce, raw }
  })
  await ensureBroadcast(chain, recorded)
  return recorded
}

/** The key of a job's only transaction before jobs had several (the deployment's). */
export const DEPLOY_KEY = 'deploy'

async function findRecorded(db: Database, jobId: number, key: string): Promise<RecordedTransaction | null> {
  const [row] = await db
    .select()
    .from(chainTransactions)
    .where(and(eq(chainTransactions.jobId, jobId), eq(chainTransactions.key, key)))
  return row ? { hash: row.hash as Hex, nonce: row.nonce, raw: row.raw as Hex } : null
}

/**
 * Waits until the recorded transaction has `confirmations` blocks on the chain as it is now, and returns its
 * receipt. A receipt is read again at every poll, not kept: a reorganisation that takes the transaction out
 * of the chain before its confirmations (the node forgets it, or its block is replaced) is seen, and the same
 * signed bytes are broadcast again and waited for, so the deployment still lands once, at the same address.
 */
export async function waitForRecordedTransaction(
  chain: ChainContext,
  recorded: RecordedTransaction,
  options: {
    confirmations: number
    timeoutMs: number
    /** Hears each new count of confirmations (a reorganisation may lower it). */
    onConfirmation?: (count: number) => void | Promise<void>
  },
): Promise<TransactionReceipt> {
  const client = chain.publicClient
  const deadline = Date.now() + options.timeoutMs
  let told = -1
  for (;;) {
    const receipt = await client.getTransactionReceipt({ hash: recorded.hash }).catch((error: unknown) => {
      if (error instanceof TransactionReceiptNotFoundError) return null
      throw error
    })
    if (receipt === null) {
      // Pending, dropped, or reorganised out: the node gets the same bytes again unless it still has them.
      await ensureBroadcast(chain, recorded, { afterLoss: true })
    } else {
      const head = await client.getBlockNumber({ cacheTime: 0 })
      const count = Math.max(0, Math.min(options.confirmations, Number(head - receipt.blockNumber + 1n)))
      if (count !== told && options.onConfirmation) {
        told = count
        await options.onConfirmation(count)
      }
      if (head - receipt.blockNumber + 1n >= BigInt(options.confirmations)) {
        // Counted on the chain the receipt's block is still part of, not on a fork the node has left.
        const block = await client.getBlock({ blockNumber: receipt.blockNumber, includeTransactions: false })
        if (block.hash === receipt.blockHash) return receipt
      }
    }
    if (Date.now() >= deadline) throw new WaitForTransactionReceiptTimeoutError({ hash: recorded.hash })
    await new Promise((resolve) => setTimeout(resolve, chain.pollingIntervalMs))
  }
}

/** Broadcasts unless the node already knows the transaction (pending or mined). */
async function ensureBroadcast(
  chain: ChainContext,
  recorded: RecordedTransaction,
  options: { afterLoss?: boolean } = {},
): Promise<void> {
  try {
    await chain.publicClient.getTransaction({ hash: recorded.hash })
    return
  } catch (error) {
    if (!(error instanceof TransactionNotFoundError)) throw error
  }
  try {
    await chain.publicClient.sendRawTransaction({ serializedTransaction: recorded.raw })
  } catch (error) {
    // A race with our own earlier broadcast is fine; anything else is a real failure. While waiting, a node
    // that answers "nonce too low" has mined it meanwhile (the receipt shows at the next poll).
    if (/already known|already imported/i.test((error as Error).message)) return
    if (options.afterLoss && /nonce too low/i.test((error as Error).message)) return
    throw error
  }
}
