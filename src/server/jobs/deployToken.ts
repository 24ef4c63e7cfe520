import { and, eq, sql } from 'drizzle-orm'
import { BaseError, ContractFunctionRevertedError, encodeDeployData, getAddress } from 'viem'
import { isFinalJobStatus } from '../../shared/protocol/jobStatus'
import { supplyUnits } from '../../shared/protocol/tokenRules'
import { type EventTransaction, transact } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { ChainContext } from '../chain/connectChain'
import { heraldTokenAbi, heraldTokenBytecode } from '../chain/heraldToken'
import { sendRecordedTransaction, waitForRecordedTransaction } from '../chain/sendRecordedTransaction'
import { TRANSFER_CURSOR } from '../chain/startTransferWatcher'
import type { Database } from '../db/openDatabase'
import { chainCursors, jobs, tokens } from '../db/schema'
import type { NotificationStore } from '../notifications/createNotificationStore'
import { type TokenView, toTokenView } from '../tokens/toTokenView'
import { JobFailure } from './JobFailure'
import { jobStatusEvent } from './setJobStatus'

export interface DeployTokenData {
  name: string
  symbol: string
  /** Whole tokens, decimal digits; minted ×10^18 to the owner. */
  initialSupply: string
  ownerAddress: string
}

export interface DeployTokenDeps {
  db: Database
  bus: Bus
  notifications: NotificationStore
  chain: ChainContext
  /** How long to wait for the receipt before handing the job back for a retry. */
  receiptTimeoutMs: number
  /** Told when a deployment lands after its job already ended (failed for good): nothing is recorded. */
  onLateReceipt?: (message: string) => void
  /** The new token, inside the transaction that records it (the `token:<address>` channel feed). */
  onTokenCreated?: (transaction: EventTransaction, token: TokenView) => Promise<unknown>
}

export const DEPLOY_TOKEN = 'deploy_token'

/**
 * Deploys the ERC-20 of one request, announcing each step once: started, pending (with the transaction
 * hash), then success (with the address) or failure. Each announcement is stored in the same transaction
 * as the job's progress, so a retried job skips what it already said; the deployment transaction itself is
 * recorded before it is sent (sendRecordedTransaction), so a retry waits for it instead of deploying again.
 */
export async function deployToken(deps: DeployTokenDeps, jobId: number): Promise<void> {
  const { db, bus, chain, onLateReceipt } = deps
  const [job] = await db.select().from(jobs).where(eq(jobs.id, jobId))
  if (!job || isFinalJobStatus(job.status)) return
  const userId = String(job.userId)
  const data = job.data as DeployTokenData
  const label = `${data.name} (${data.symbol})`

  if (job.status === 'pending') {
    await db.update(jobs).set({ status: 'running', updatedAt: sql`now()` }).where(eq(jobs.id, jobId))
    await bus.announce(jobStatusEvent({ jobId, userId, type: job.type, status: 'running' }))
  }
  await announceOnce(deps, jobId, userId, 'started', {
    type: 'token_deployment_started',
    title: `Deploying ${label}`,
    message: `Your token ${label} is being deployed.`,
    data: { jobId: String(jobId), name: data.name, symbol: data.symbol, initialSupply: data.initialSupply },
  })

  const deployData = encodeDeployData({
    abi: heraldTokenAbi,
    bytecode: heraldTokenBytecode,
    args: [data.name, data.symbol, supplyUnits(data.initialSupply), getAddress(data.ownerAddress)],
  })
  let sent: Awaited<ReturnType<typeof sendRecordedTransaction>>
  try {
    sent = await sendRecordedTransaction(db, chain, { jobId, data: deployData })
  } catch (error) {
    if (isRevert(error))
      throw new JobFailure(`The deployment would revert: ${shortReason(error)}`, { cause: error })
    throw error
  }
  await announceOnce(deps, jobId, userId, 'pending', {
    type: 'token_deployment_pending',
    title: `${label}: transaction sent`,
    message: `Waiting for ${chain.confirmations} confirmation${chain.confirmations === 1 ? '' : 's'}.`,
    data: { jobId: String(jobId), txHash: sent.hash },
  })

  // Through reorganisations: a receipt lost before its confirmations sends the same bytes again.
  const receipt = await waitForRecordedTransaction(chain, sent, {
    confirmations: chain.confirmations,
    timeoutMs: deps.receiptTimeoutMs,
  })
  if (receipt.status !== 'success' || !receipt.contractAddress)
    throw new JobFailure(`The deployment transaction ${sent.hash} reverted.`)
  const address = getAddress(receipt.contractAddress)
  const deployedBlock = Number(receipt.blockNumber)

  await transact(db, bus, async (transaction) => {
    const { tx } = transaction
    // pg-boss may have given up on this attempt meanwhile (it expired; with no retries left the dead-letter
    // worker marked the job failed): a job ends once, so a late receipt changes nothing and says nothing.
    const [current] = await tx
      .select({ status: jobs.status })
      .from(jobs)
      .where(eq(jobs.id, jobId))
      .for('update')
    if (current?.status !== 'running') {
      onLateReceipt?.(
        `job ${jobId} is ${current?.status ?? 'gone'}; its deployment ${sent.hash} landed at ${address}`,
      )
      return
    }
    const [token] = await tx
      .insert(tokens)
      .values({
        userId: job.userId,
        chainId: chain.chainId,
        address,
        name: data.name,
        symbol: data.symbol,
        initialSupply: data.initialSupply,
        ownerAddress: getAddress(data.ownerAddress),
        deploymentTx: sent.hash,
        deployedBlock,
        jobId,
      })
      .returning()
    // The transfer watcher may already be past this block: rewind it so it reads the new token's history.
    await tx
      .update(chainCursors)
      .set({ block: sql`least(${chainCursors.block}, ${deployedBlock - 1})` })
      .where(and(eq(chainCursors.name, TRANSFER_CURSOR), eq(chainCursors.chainId, chain.chainId)))
    const result = { tokenId: String(token!.id), address, txHash: sent.hash, blockNumber: deployedBlock }
    await deps.notifications.createIn(transaction, {
      userId,
      type: 'token_deployment_success',
      title: `${label} deployed`,
      message: `${data.symbol} is live at ${address}.`,
      data: { jobId: String(jobId), ...result },
    })
    await tx
      .update(jobs)
      .set({ status: 'completed', result, updatedAt: sql`now()` })
      .where(eq(jobs.id, jobId))
    // The list changes before the job says it is done, so a client that stops listening at "completed"
    // already has the new token.
    const view = toTokenView(token!)
    await transaction.publish({
      kind: 'user',
      userId,
      message: { type: 'data_update', entity: 'token', action: 'created', data: view },
    })
    await deps.onTokenCreated?.(transaction, view)
    await transaction.publish(jobStatusEvent({ jobId, userId, type: job.type, status: 'completed', result }))
  })
}

/** Marks the job failed and tells the owner why, once. */
export async function failDeployToken(
  deps: { db: Database; bus: Bus; notifications: NotificationStore },
  jobId: number,
  reason: string,
) {
  const { db, bus } = deps
  await transact(db, bus, async (transaction) => {
    const { tx } = transaction
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).for('update')
    if (!job || isFinalJobStatus(job.status)) return
    const userId = String(job.userId)
    const data = job.data as DeployTokenData
    await deps.notifications.createIn(transaction, {
      userId,
      type: 'token_deployment_failed',
      title: `${data.name} (${data.symbol}) was not deployed`,
      message: reason,
      data: { jobId: String(jobId), reason },
    })
    await tx
      .update(jobs)
      .set({ status: 'failed', error: reason, updatedAt: sql`now()` })
      .where(eq(jobs.id, jobId))
    await transaction.publish(
      jobStatusEvent({ jobId, userId, type: job.type, status: 'failed', error: reason }),
    )
  })
}

async function announceOnce(
  deps: { db: Database; bus: Bus; notifications: NotificationStore },
  jobId: number,
  userId: string,
  step: string,
  params: { type: string; title: string; message: string; data: unknown },
): Promise<void> {
  await transact(deps.db, deps.bus, async (transaction) => {
    const { tx } = transaction
    const [job] = await tx
      .select({ progress: jobs.progress })
      .from(jobs)
      .where(eq(jobs.id, jobId))
      .for('update')
    if (!job || job.progress[step]) return
    await deps.notifications.createIn(transaction, { userId, ...params })
    await tx
      .update(jobs)
      .set({ progress: { ...job.progress, [step]: true }, updatedAt: sql`now()` })
      .where(eq(jobs.id, jobId))
  })
}

function isRevert(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false
  if (error.walk((e) => e instanceof ContractFunctionRevertedError)) return true
  return /revert/i.test(error.message)
}

function shortReason(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage
  return (error as Error).message
}
