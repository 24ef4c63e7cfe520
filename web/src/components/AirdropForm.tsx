import { type FormEvent, useId, useRef, useState } from 'react'
import type { Address } from 'viem'
import { readContract, waitForTransactionReceipt, writeContract } from 'viem/actions'
import { useHeraldClient, useJobStatus } from '../../../src/client/react'
import { createIdempotencyKey, HeraldApiError, type Token } from '../../../src/client/sdk'
import { heraldTokenAbi } from '../../../src/shared/contracts/heraldTokenAbi'
import type { AirdropRecipientResult } from '../../../src/shared/protocol/airdrop'
import { useApp } from '../AppContext'
import { parseAirdrop } from '../lib/airdrop'
import { ensureBurnerFunds, ensureWalletChain } from '../lib/chain'
import { errorMessage, formatAmount, shortAddress, shortHash } from '../lib/format'

/**
 * Sends amounts of one of the user's tokens to up to 500 addresses: the wallet approves Herald's deployer for
 * the total, then the `airdrop` job pays each recipient once, with a live progress bar and a result per
 * recipient. One Idempotency-Key per submission, so a double click starts one airdrop.
 */
export function AirdropForm({ token, balance }: { token: Token; balance: bigint | null }) {
  const client = useHeraldClient()
  const { wallet, session, chain, publicClient, config, sessionEnded } = useApp()
  const id = useId()
  const [text, setText] = useState('')
  const [phase, setPhase] = useState<{ step: 'idle' | 'working' | 'error'; text?: string }>({ step: 'idle' })
  const [jobId, setJobId] = useState<string | null>(null)
  const submission = useRef<string | null>(null)
  const parsed = parseAirdrop(text)
  const busy = phase.step === 'working'

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (busy) return
    if (parsed.error) return setPhase({ step: 'error', text: parsed.error })
    if (balance !== null && parsed.total > balance)
      return setPhase({
        step: 'error',
        text: `More than your balance (${formatAmount(balance)} ${token.symbol}).`,
      })
    const spender = config.deployerAddress as Address | null
    if (!chain || !publicClient || !spender)
      return setPhase({ step: 'error', text: 'This server has no chain or no deployer.' })
    if (!wallet) return setPhase({ step: 'error', text: 'Connect your wallet to approve the airdrop.' })
    if (session && wallet.address.toLowerCase() !== session.address.toLowerCase())
      return setPhase({ step: 'error', text: `Switch your wallet back to ${shortAddress(session.address)}.` })
    submission.current ??= createIdempotencyKey()
    try {
      const owner = wallet.address as Address
      const allowance = (await readContract(publicClient, {
        address: token.address as Address,
        abi: heraldTokenAbi,
        functionName: 'allowance',
        args: [owner, spender],
      })) as bigint
      if (allowance < parsed.total) {
        if (wallet.kind === 'burner') await ensureBurnerFunds(publicClient, wallet.address)
        else if (wallet.provider) await ensureWalletChain(wallet.provider, chain)
        setPhase({ step: 'working', text: `Approve ${shortAddress(spender)} for the total in your wallet…` })
        const hash = await writeContract(wallet.client, {
          address: token.address as Address,
          abi: heraldTokenAbi,
          functionName: 'approve',
          args: [spender, parsed.total],
          account: wallet.client.account,
          chain,
        })
        setPhase({ step: 'working', text: `Approval ${shortHash(hash)} sent, waiting for it…` })
        const receipt = await waitForTransactionReceipt(publicClient, { hash })
        if (receipt.status !== 'success') throw new Error('The approval reverted.')
      }
      setPhase({ step: 'working', text: 'Starting the airdrop…' })
      const { job } = await client.api.jobs.start(
        'airdrop',
        { token: token.address, recipients: parsed.recipients },
        { idempotencyKey: submission.current },
      )
      submission.current = null
      setJobId(job.id)
      setText('')
      setPhase({ step: 'idle' })
    } catch (error) {
      if (error instanceof HeraldApiError && error.status === 401) sessionEnded()
      else setPhase({ step: 'error', text: errorMessage(error) })
    }
  }

  return (
    <div className="airdrop" data-testid="airdrop">
      <form className="form" onSubmit={submit} noValidate aria-label={`Airdrop ${token.symbol}`}>
        <label htmlFor={`${id}-list`} className="field__label">
          Recipients (one per line: address, amount in {token.symbol})
        </label>
        <textarea
          id={`${id}-list`}
          className="field__input airdrop__list"
          rows={5}
          spellCheck={false}
          placeholder={'0x1234…, 10\n0xabcd…, 2.5'}
          value={text}
          onChange={(e) => {
            setText(e.target.value)
            submission.current = null
            if (phase.step === 'error') setPhase({ step: 'idle' })
          }}
          data-testid="airdrop-list"
        />
        <p className="muted small">
          {parsed.error && text.trim()
            ? parsed.error
            : `${parsed.recipients.length} recipient${parsed.recipients.length === 1 ? '' : 's'}, ${formatAmount(parsed.total)} ${token.symbol} in all`}
        </p>
        <button type="submit" className="herald-button" aria-disabled={busy} data-testid="airdrop-submit">
          {busy ? 'Working…' : `Airdrop ${token.symbol}`}
        </button>
        {phase.step !== 'idle' && (
          <p role={phase.step === 'error' ? 'alert' : 'status'} data-testid={`airdrop-${phase.step}`}>
            {phase.text}
          </p>
        )}
      </form>
      {jobId && <AirdropProgress jobId={jobId} />}
    </div>
  )
}

/** The airdrop job, live: a progress bar (sent, then confirmed), cancel while it runs, then each recipient. */
function AirdropProgress({ jobId }: { jobId: string }) {
  const client = useHeraldClient()
  const status = useJobStatus(jobId)
  const [cancelError, setCancelError] = useState<string | null>(null)
  const progress = status.progress
  const done = progress?.done ?? 0
  const total = progress?.total ?? 0
  const running = status.status === 'pending' || status.status === 'running'
  const results = ((status.result ?? status.job?.result) as { recipients?: AirdropRecipientResult[] } | null)
    ?.recipients
  const label = progress?.step === 'confirming' ? 'Confirmed' : 'Sent'
  return (
    <div className="airdrop__job" data-testid="airdrop-job" data-status={status.status ?? 'pending'}>
      <p>
        Airdrop #{jobId}: <strong>{status.status ?? 'pending'}</strong>
        {status.error ? ` — ${status.error}` : ''}
      </p>
      {total > 0 && (
        <>
          <progress
            max={total}
            value={done}
            aria-label={`${label} ${done} of ${total}`}
            data-testid="airdrop-progress"
          />
          <span className="muted small">
            {' '}
            {label} {done} / {total}
          </span>
        </>
      )}
      {running && (
        <button
          type="button"
          className="herald-link-button"
          onClick={() => client.api.jobs.cancel(jobId).catch((e) => setCancelError(errorMessage(e)))}
          data-testid="airdrop-cancel"
        >
          Cancel
        </button>
      )}
      {cancelError && <p role="alert">{cancelError}</p>}
      {results && results.length > 0 && (
        <ul className="airdrop__results" data-testid="airdrop-results">
          {results.map((r) => (
            <li key={r.address} data-status={r.status}>
              <span className="mono">{shortAddress(r.address)}</span> {r.amount} ·{' '}
              <span className="mono">{shortHash(r.txHash)}</span> {r.status === 'success' ? '✓' : 'reverted'}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
