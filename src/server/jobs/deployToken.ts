import { and, eq, sql } from 'drizzle-orm'
import { t } from 'elysia'
import { BaseError, ContractFunctionRevertedError, encodeDeployData, getAddress } from 'viem'
import { CreateTokenBodySchema } from '../../shared/protocol'
import { supplyUnits } from '../../shared/protocol/tokenRules'
import type { EventTransaction } from '../bus/transact'
import type { ChainContext } from '../chain/connectChain'
import { heraldTokenAbi, heraldTokenBytecode } from '../chain/heraldToken'
import { DEPLOY_KEY } from '../chain/sendRecordedTransaction'
import { TRANSFER_CURSOR } from '../chain/startTransferWatcher'
import type { Database } from '../db/openDatabase'
import { chainCursors, tokens, users } from '../db/schema'
import type { NotificationStore } from '../notifications/createNotificationStore'
import { type TokenView, toTokenView } from '../tokens/toTokenView'
import { validateTokenRequest } from '../tokens/validateTokenRequest'
import { defineJob } from './defineJob'
import { JobFailure } from './JobFailure'

export interface DeployTokenData {
  name: string
  symbol: string
  /** Whole tokens, decimal digits; minted ×10^18 to the owner. */
  initialSupply: string
  /** Set by `POST /api/tokens`; a job started with `POST /api/jobs` mints to its owner's address. */
  ownerAddress?: string
}

export interface DeployTokenDeps {
  db: Database
  notifications: NotificationStore
  /** Null: no chain is configured, and the job refuses to start (503). */
  chain: ChainContext | null
  retries: number
  timeoutSeconds: number
  /** The new token, inside the transaction that records it (the `token:<address>` channel feed). */
  onTokenCreated?: (transaction: EventTransaction, token: TokenView) => Promise<unknown>
}

export const DEPLOY_TOKEN = 'deploy_token'

/**
 * Deploys the ERC-20 of one request, as a job: each notification (started, pending with the transaction
 * hash, then success with the address or failure) is sent once per job (`ctx.notify`), the deployment
 * transaction is recorded before it is sent (`ctx.sendTransaction`), so a retry waits for it instead of
 * deploying again, and the token, its notification and the completion commit together (`complete`).
 * Progress: `signing`, `broadcast`, `confirming` (done/total = confirmations).
 */
export function deployTokenJob(deps: DeployTokenDeps) {
  const confirmations = deps.chain?.confirmations ?? 1
  const labelOf = (data: DeployTokenData) => `${data.name} (${data.symbol})`
  return defineJob({
    name: DEPLOY_TOKEN,
    // Closed: the owner's address comes from the session (POST /api/tokens) or the owner, never from input.
    input: t.Object(CreateTokenBodySchema.properties, { additionalProperties: false }),
    retries: deps.retries,
    timeoutSeconds: deps.timeoutSeconds,
    userStartable: true,
    requiresChain: true,
    validate: (input) => validateTokenRequest(input),
    async run(input: DeployTokenData, ctx) {
      const ownerAddress = getAddress(input.ownerAddress ?? (await ownerAddressOf(deps.db, ctx.userId)))
      const data = { ...input, ownerAddress }
      const label = labelOf(data)
      const jobId = ctx.jobId
      await ctx.notify({
        key: 'started',
        type: 'token_deployment_started',
        title: `Deploying ${label}`,
        message: `Your token ${label} is being deployed.`,
        data: { jobId, name: data.name, symbol: data.symbol, initialSupply: data.initialSupply },
      })
      await ctx.progress({ step: 'signing' })
      const deployData = encodeDeployData({
        abi: heraldTokenAbi,
        bytecode: heraldTokenBytecode,
        args: [data.name, data.symbol, supplyUnits(data.initialSupply), ownerAddress],
      })
      let sent: Awaited<ReturnType<typeof ctx.sendTransaction>>
      try {
        sent = await ctx.sendTransaction({ key: DEPLOY_KEY, data: deployData })
      } catch (error) {
        if (isRevert(error))
          throw new JobFailure(`The deployment would revert: ${shortReason(error)}`, { cause: error })
        throw error
      }
      await ctx.progress({ step: 'broadcast', message: sent.hash })
      await ctx.notify({
        key: 'pending',
        type: 'token_deployment_pending',
        title: `${label}: transaction sent`,
        message: `Waiting for ${confirmations} confirmation${confirmations === 1 ? '' : 's'}.`,
        data: { jobId, txHash: sent.hash },
      })
      // Through reorganisations: a receipt lost before its confirmations sends the same bytes again.
      const receipt = await ctx.waitForTransaction(sent, {
        confirmations,
        onConfirmation: (done) => ctx.progress({ step: 'confirming', done, total: confirmations }),
      })
      if (receipt.status !== 'success' || !receipt.contractAddress)
        throw new JobFailure(`The deployment transaction ${sent.hash} reverted.`)
      return {
        ...data,
        address: getAddress(receipt.contractAddress),
        txHash: sent.hash,
        blockNumber: Number(receipt.blockNumber),
      }
    },
    async complete(transaction, deployed, job) {
      const { tx } = transaction
      const chainId = deps.chain!.chainId
      const [token] = await tx
        .insert(tokens)
        .values({
          userId: Number(job.userId),
          chainId,
          address: deployed.address,
          name: deployed.name,
          symbol: deployed.symbol,
          initialSupply: deployed.initialSupply,
          ownerAddress: deployed.ownerAddress,
          deploymentTx: deployed.txHash,
          deployedBlock: deployed.blockNumber,
          jobId: Number(job.jobId),
        })
        .returning()
      // The transfer watcher may already be past this block: rewind it so it reads the new token's history.
      await tx
        .update(chainCursors)
        .set({ block: sql`least(${chainCursors.block}, ${deployed.blockNumber - 1})` })
        .where(and(eq(chainCursors.name, TRANSFER_CURSOR), eq(chainCursors.chainId, chainId)))
      const result = {
        tokenId: String(token!.id),
        address: deployed.address,
        txHash: deployed.txHash,
        blockNumber: deployed.blockNumber,
      }
      await deps.notifications.createIn(transaction, {
        userId: job.userId,
        type: 'token_deployment_success',
        title: `${labelOf(deployed)} deployed`,
        message: `${deployed.symbol} is live at ${deployed.address}.`,
        data: { jobId: job.jobId, ...result },
      })
      // The list changes before the job says it is done, so a client that stops listening at "completed"
      // already has the new token.
      await transaction.publish({
        kind: 'user',
        userId: job.userId,
        message: { type: 'data_update', entity: 'token', action: 'created', data: toTokenView(token!) },
      })
      await deps.onTokenCreated?.(transaction, toTokenView(token!))
      return result
    },
    async fail(transaction, reason, job) {
      await deps.notifications.createIn(transaction, {
        userId: job.userId,
        type: 'token_deployment_failed',
        title: `${labelOf(job.input)} was not deployed`,
        message: reason,
        data: { jobId: job.jobId, reason },
      })
    },
  })
}

async function ownerAddressOf(db: Database, userId: string): Promise<string> {
  const [user] = await db
    .select({ address: users.address })
    .from(users)
    .where(eq(users.id, Number(userId)))
  if (!user) throw new JobFailure('The job’s owner no longer exists.')
  return user.address
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
