import { and, eq, max, sql } from 'drizzle-orm'
import { type Hex, keccak256, TransactionNotFoundError } from 'viem'
import type { Database } from '../db/openDatabase'
import { chainTransactions } from '../db/schema'
import type { ChainContext } from './connectChain'

export interface RecordedTransaction {
  hash: Hex
  nonce: number
  raw: Hex
}

/**
 * Sends a transaction at most once per job. The transaction is signed and stored (hash, raw bytes, nonce)
 * before it is broadcast; a retried job finds it and broadcasts the same bytes again if the node has lost
 * them, so a crash at any point can never produce a second transaction. Nonces are allocated under an
 * advisory lock from max(chain's pending nonce, last stored + 1), so concurrent jobs in any number of worker
 * processes never collide.
 */
export async function sendRecordedTransaction(
  db: Database,
  chain: ChainContext,
  params: { jobId: number; data: Hex; to?: Hex },
): Promise<RecordedTransaction> {
  const account = chain.deployer
  if (!account) throw new Error('This process has no deployer key.')
  const existing = await findRecorded(db, params.jobId)
  if (existing) {
    await ensureBroadcast(chain, existing)
    return existing
  }
  // Estimation runs the transaction: a reverting deployment fails here, before any nonce is taken.
  const gas = await chain.publicClient.estimateGas({ account, data: params.data, to: params.to })
  const fees = await chain.publicClient.estimateFeesPerGas()
  const chainNonce = await chain.publicClient.getTransactionCount({
    address: account.address,
    blockTag: 'pending',
  })
  const from = account.address
  const recorded = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`herald-nonce:${chain.chainId}:${from}`}))`)
    const [again] = await tx.select().from(chainTransactions).where(eq(chainTransactions.jobId, params.jobId))
    if (again) return { hash: again.hash as Hex, nonce: again.nonce, raw: again.raw as Hex }
    const [last] = await tx
      .select({ nonce: max(chainTransactions.nonce) })
      .from(chainTransactions)
      .where(and(eq(chainTransactions.chainId, chain.chainId), eq(chainTransactions.fromAddress, from)))
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
      value: 0n,
    })
    const hash = keccak256(raw)
    await tx.insert(chainTransactions).values({
      chainId: chain.chainId,
      fromAddress: from,
      nonce,
      hash,
      raw,
      jobId: params.jobId,
    })
    return { hash, nonce, raw }
  })
  await ensureBroadcast(chain, recorded)
  return recorded
}

async function findRecorded(db: Database, jobId: number): Promise<RecordedTransaction | null> {
  const [row] = await db.select().from(chainTransactions).where(eq(chainTransactions.jobId, jobId))
  return row ? { hash: row.hash as Hex, nonce: row.nonce, raw: row.raw as Hex } : null
}

/** Broadcasts unless the node already knows the transaction (pending or mined). */
async function ensureBroadcast(chain: ChainContext, recorded: RecordedTransaction): Promise<void> {
  try {
    await chain.publicClient.getTransaction({ hash: recorded.hash })
    return
  } catch (error) {
    if (!(error instanceof TransactionNotFoundError)) throw error
  }
  try {
    await chain.publicClient.sendRawTransaction({ serializedTransaction: recorded.raw })
  } catch (error) {
    // A race with our own earlier broadcast is fine; anything else is a real failure.
    if (/already known|already imported/i.test((error as Error).message)) return
    throw error
  }
}
