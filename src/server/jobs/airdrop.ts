import { and, eq } from 'drizzle-orm'
import { encodeFunctionData, getAddress, parseUnits } from 'viem'
import {
  AIRDROP_MAX_RECIPIENTS,
  type AirdropInput,
  AirdropInputSchema,
  type AirdropRecipientResult,
} from '../../shared/protocol/airdrop'
import type { ChainContext } from '../chain/connectChain'
import { heraldTokenAbi } from '../chain/heraldToken'
import type { Database } from '../db/openDatabase'
import { tokens } from '../db/schema'
import { HeraldError } from '../errors'
import { defineJob, JobCancelled, type JobContext, type SentTransaction } from './defineJob'
import { JobFailure } from './JobFailure'

export const AIRDROP = 'airdrop'

/** Waits for each sent transfer (one confirmation) and tells what became of it. */
async function confirm(
  ctx: JobContext,
  input: AirdropInput,
  sent: SentTransaction[],
  onDone?: (done: number) => Promise<void>,
): Promise<AirdropRecipientResult[]> {
  const results: AirdropRecipientResult[] = []
  for (const [i, transaction] of sent.entries()) {
    const receipt = await ctx.waitForTransaction(transaction, { confirmations: 1 })
    const recipient = input.recipients[i]!
    results.push({
      address: getAddress(recipient.address),
      amount: recipient.amount,
      txHash: transaction.hash,
      status: receipt.status === 'success' ? 'success' : 'reverted',
    })
    await onDone?.(i + 1)
  }
  return results
}

/**
 * The owner of a Herald token sends amounts to up to 500 addresses. Herald's deployer key signs one
 * `transferFrom(owner, recipient, amount)` per recipient, so the owner approves the deployer for the total
 * first (the web form does it with the wallet). Each transfer is `ctx.sendTransaction` keyed by the
 * recipient's position: recorded before it is broadcast, so through crashes and retries no recipient is paid
 * twice and none is skipped. Cancellation is seen between recipients.
 */
export function airdropJob(deps: {
  db: Database
  chain: ChainContext | null
  retries: number
  timeoutSeconds: number
}) {
  return defineJob({
    name: AIRDROP,
    input: AirdropInputSchema,
    retries: deps.retries,
    // An attempt that runs out of time is retried, and the retry resumes where it stopped.
    timeoutSeconds: deps.timeoutSeconds,
    userStartable: true,
    requiresChain: true,
    validate(input: AirdropInput) {
      const seen = new Set<string>()
      input.recipients.forEach((recipient, i) => {
        const address = recipient.address.toLowerCase()
        if (seen.has(address))
          throw new HeraldError('INVALID_INPUT', `input.recipients.${i}.address: listed twice.`)
        seen.add(address)
        if (parseUnits(recipient.amount, 18) === 0n)
          throw new HeraldError('INVALID_INPUT', `input.recipients.${i}.amount: must be more than 0.`)
      })
      if (input.recipients.length > AIRDROP_MAX_RECIPIENTS)
        throw new HeraldError('INVALID_INPUT', `input.recipients: at most ${AIRDROP_MAX_RECIPIENTS}.`)
    },
    async run(input: AirdropInput, ctx) {
      const chain = deps.chain
      if (!chain?.deployer) throw new JobFailure('This Herald has no chain or no deployer key.')
      const deployer = chain.deployer.address
      const total = input.recipients.length
      const amounts = input.recipients.map((r) => parseUnits(r.amount, 18))
      const sum = amounts.reduce((a, b) => a + b, 0n)
      // Checked once: on a retry the allowance has already gone down by what was paid.
      const token = await ctx.step('check', async () => {
        const [row] = await deps.db
          .select()
          .from(tokens)
          .where(
            and(
              eq(tokens.userId, Number(ctx.userId)),
              eq(tokens.chainId, chain.chainId),
              eq(tokens.address, getAddress(input.token)),
            ),
          )
        if (!row) throw new JobFailure(`${input.token} is not one of your Herald tokens.`)
        const owner = getAddress(row.ownerAddress)
        const read = (
          functionName: 'allowance' | 'balanceOf',
          args: readonly [`0x${string}`, ...`0x${string}`[]],
        ) =>
          chain.publicClient.readContract({
            address: row.address as `0x${string}`,
            abi: heraldTokenAbi,
            functionName,
            args: args as never,
          }) as Promise<bigint>
        const [allowance, balance] = await Promise.all([
          read('allowance', [owner, deployer]),
          read('balanceOf', [owner]),
        ])
        if (balance < sum)
          throw new JobFailure(
            `The owner holds ${balance} base units of ${row.symbol}; the airdrop needs ${sum}.`,
          )
        if (allowance < sum)
          throw new JobFailure(
            `Herald (${deployer}) may spend ${allowance} base units of the owner's ${row.symbol}; approve ${sum} first.`,
          )
        return { address: row.address as `0x${string}`, owner, symbol: row.symbol }
      })
      // Sent one after the other without waiting for each block (nonces follow one another), then confirmed:
      // on a chain with slow blocks, 500 transfers take minutes, not hours.
      const sent: SentTransaction[] = []
      await ctx.progress({ step: 'sending', done: 0, total })
      for (const [i, recipient] of input.recipients.entries()) {
        try {
          // Aborts before anything is recorded once cancelled; a recipient already recorded is sent regardless.
          sent.push(
            await ctx.sendTransaction({
              key: `transfer:${i}`,
              to: token.address,
              data: encodeFunctionData({
                abi: heraldTokenAbi,
                functionName: 'transferFrom',
                args: [token.owner, getAddress(recipient.address), amounts[i]!],
              }),
            }),
          )
        } catch (error) {
          if (ctx.signal.aborted && ctx.signal.reason === 'cancelled')
            throw new JobCancelled({ token: token.address, recipients: await confirm(ctx, input, sent) })
          throw error
        }
        await ctx.progress({ step: 'sending', done: i + 1, total, message: recipient.address })
      }
      const results = await confirm(ctx, input, sent, (done) =>
        ctx.progress({ step: 'confirming', done, total }),
      )
      const paid = results.filter((r) => r.status === 'success').length
      await ctx.notify({
        key: 'done',
        type: 'airdrop_completed',
        title: `Airdrop of ${token.symbol} done`,
        message: `${paid} of ${total} recipients paid.`,
        data: { jobId: ctx.jobId, token: token.address, paid, total },
      })
      return { token: token.address, recipients: results }
    },
  })
}
