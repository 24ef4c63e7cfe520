import { type FormEvent, useId, useState } from 'react'
import { type Address, getAddress, isAddress, parseUnits } from 'viem'
import { waitForTransactionReceipt, writeContract } from 'viem/actions'
import type { Token } from '../../../src/client/sdk'
import { heraldTokenAbi } from '../../../src/shared/contracts/heraldTokenAbi'
import { TOKEN_DECIMALS } from '../../../src/shared/protocol/tokenRules'
import { useApp } from '../AppContext'
import { ensureBurnerFunds, ensureWalletChain } from '../lib/chain'
import { errorMessage, formatAmount, shortAddress, shortHash } from '../lib/format'
import { Field } from './Field'

type Phase =
  | { step: 'idle' }
  | { step: 'working'; text: string }
  | { step: 'done'; text: string }
  | { step: 'error'; text: string }

const AMOUNT = /^(?:\d+(?:\.\d*)?|\.\d+)$/

function validate(to: string, amount: string, balance: bigint | null, symbol: string) {
  const errors: { to?: string; amount?: string } = {}
  const recipient = to.trim()
  if (!recipient) errors.to = 'Enter the recipient’s address.'
  else if (!isAddress(recipient))
    errors.to = 'Not an address: 0x and 40 hex characters (mixed case must match the checksum).'
  if (!amount) errors.amount = 'Enter an amount.'
  else if (!AMOUNT.test(amount)) errors.amount = 'A positive number, like 10 or 0.5.'
  else if ((amount.split('.')[1] ?? '').length > TOKEN_DECIMALS)
    errors.amount = `At most ${TOKEN_DECIMALS} decimals.`
  else {
    const value = parseUnits(amount, TOKEN_DECIMALS)
    if (value === 0n) errors.amount = 'The amount must be more than 0.'
    else if (balance !== null && value > balance)
      errors.amount = `More than your balance (${formatAmount(balance)} ${symbol}).`
  }
  return errors
}

/** Sends an ERC-20 `transfer` from the connected wallet on the server's chain. */
export function TransferForm({
  token,
  balance,
  onSent,
}: {
  token: Token
  balance: bigint | null
  onSent: () => void
}) {
  const { wallet, session, chain, publicClient, injected, connect } = useApp()
  const id = useId()
  const [to, setTo] = useState('')
  const [amount, setAmount] = useState('')
  const [submitted, setSubmitted] = useState(false)
  const [phase, setPhase] = useState<Phase>({ step: 'idle' })
  const errors = validate(to, amount, balance, token.symbol)
  const busy = phase.step === 'working'

  const mismatch = wallet && session && wallet.address.toLowerCase() !== session.address.toLowerCase()
  const reconnectTarget =
    !wallet && session?.wallet.kind === 'injected'
      ? injected.wallets.find((w) => w.id === session.wallet.id)
      : undefined

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (busy) return
    setSubmitted(true)
    if (errors.to || errors.amount) return
    if (!chain || !publicClient)
      return setPhase({ step: 'error', text: 'This server has no chain configured.' })
    if (!wallet) return setPhase({ step: 'error', text: 'Connect your wallet to send tokens.' })
    if (mismatch)
      return setPhase({
        step: 'error',
        text: `Your wallet is on ${shortAddress(wallet.address)}; switch it back to ${shortAddress(session!.address)}.`,
      })
    const value = parseUnits(amount, TOKEN_DECIMALS)
    const recipient = getAddress(to.trim())
    try {
      if (wallet.kind === 'burner') {
        setPhase({ step: 'working', text: 'Checking the burner’s gas…' })
        if (await ensureBurnerFunds(publicClient, wallet.address))
          setPhase({
            step: 'working',
            text: 'Funded the burner with 10 test ETH (anvil_setBalance, dev only)…',
          })
      } else if (wallet.provider) {
        setPhase({ step: 'working', text: `Switching your wallet to ${chain.name}…` })
        await ensureWalletChain(wallet.provider, chain)
      }
      setPhase({
        step: 'working',
        text: wallet.kind === 'burner' ? 'Sending…' : 'Confirm the transfer in your wallet…',
      })
      const hash = await writeContract(wallet.client, {
        address: token.address as Address,
        abi: heraldTokenAbi,
        functionName: 'transfer',
        args: [recipient, value],
        account: wallet.client.account,
        chain,
      })
      setPhase({ step: 'working', text: `Sent ${shortHash(hash)}, waiting for confirmation…` })
      const receipt = await waitForTransactionReceipt(publicClient, { hash })
      if (receipt.status !== 'success') throw new Error('The transaction reverted.')
      setPhase({ step: 'done', text: `Sent ${amount} ${token.symbol} to ${shortAddress(recipient)}.` })
      setTo('')
      setAmount('')
      setSubmitted(false)
      onSent()
    } catch (error) {
      setPhase({ step: 'error', text: errorMessage(error) })
    }
  }

  return (
    <form
      className="transfer"
      onSubmit={submit}
      noValidate
      data-testid="transfer-form"
      aria-label={`Send ${token.symbol}`}
    >
      <div className="form__row form__row--transfer">
        <Field
          id={`${id}-to`}
          label="Recipient"
          placeholder="0x…"
          autoComplete="off"
          spellCheck={false}
          className="field--grow"
          value={to}
          onChange={(e) => setTo(e.target.value)}
          error={submitted ? errors.to : undefined}
          testId="transfer-to"
        />
        <Field
          id={`${id}-amount`}
          label={`Amount (${token.symbol})`}
          placeholder="10"
          inputMode="decimal"
          autoComplete="off"
          value={amount}
          onChange={(e) => setAmount(e.target.value.trim())}
          error={submitted ? errors.amount : undefined}
          hint={
            balance !== null ? (
              <button
                type="button"
                className="herald-link-button max-button"
                onClick={() =>
                  setAmount(formatAmount(balance, TOKEN_DECIMALS, TOKEN_DECIMALS).replace(/,/g, ''))
                }
              >
                Max: {formatAmount(balance)}
              </button>
            ) : undefined
          }
          testId="transfer-amount"
        />
      </div>
      <div className="transfer__actions">
        {reconnectTarget ? (
          <button
            type="button"
            className="herald-button herald-button--secondary"
            onClick={() =>
              connect(reconnectTarget).catch((error) =>
                setPhase({ step: 'error', text: errorMessage(error) }),
              )
            }
            data-testid="transfer-reconnect"
          >
            Reconnect {reconnectTarget.name}
          </button>
        ) : (
          <button type="submit" className="herald-button" aria-disabled={busy} data-testid="transfer-submit">
            {busy ? 'Sending…' : `Send ${token.symbol}`}
          </button>
        )}
        {phase.step !== 'idle' && (
          <p
            className={`transfer__status transfer__status--${phase.step}`}
            role={phase.step === 'error' ? 'alert' : 'status'}
            data-testid={phase.step === 'error' ? 'transfer-error' : 'transfer-status'}
            data-state={phase.step}
          >
            {phase.text}
          </p>
        )}
      </div>
      {!wallet && !reconnectTarget && (
        <p className="muted small">
          Your wallet is not connected in this tab; sign out and in again to send.
        </p>
      )}
    </form>
  )
}
