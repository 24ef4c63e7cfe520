import { type FormEvent, useRef, useState } from 'react'
import { useHeraldClient } from '../../../src/client/react'
import { createIdempotencyKey, HeraldApiError } from '../../../src/client/sdk'
import {
  TOKEN_DECIMALS,
  TOKEN_NAME_MAX_CHARS,
  TOKEN_SYMBOL_MAX,
  type TokenRequest,
  tokenRequestErrors,
} from '../../../src/shared/protocol/tokenRules'
import { useApp } from '../AppContext'
import { errorMessage } from '../lib/format'
import type { RecentJob } from '../lib/recentJobs'
import { Field } from './Field'

const EMPTY: TokenRequest = { name: '', symbol: '', initialSupply: '' }
const FIELDS = ['name', 'symbol', 'initialSupply'] as const

/** Deploys an ERC-20 minted to the signed-in address; checked with the server's own rules before sending. */
export function DeployTokenForm({ onQueued }: { onQueued: (job: RecentJob) => void }) {
  const client = useHeraldClient()
  const { chain, sessionEnded } = useApp()
  const [values, setValues] = useState(EMPTY)
  const [touched, setTouched] = useState<Partial<Record<keyof TokenRequest, boolean>>>({})
  const [submitted, setSubmitted] = useState(false)
  const [sending, setSending] = useState(false)
  const [serverError, setServerError] = useState<string | null>(null)
  const form = useRef<HTMLFormElement>(null)
  // One Idempotency-Key per submission: the same values sent again (a double click before the button
  // disables, a retry after an error) reuse it, so the server deploys once; a change or a success starts anew.
  const submission = useRef<string | null>(null)

  const errors = tokenRequestErrors(values)
  const shown = (field: keyof TokenRequest) => (submitted || touched[field] ? errors[field] : undefined)
  const set = (field: keyof TokenRequest, value: string) => {
    setValues((v) => ({ ...v, [field]: value }))
    setServerError(null)
    submission.current = null
  }
  const blur = (field: keyof TokenRequest) => () => {
    if (values[field] !== '') setTouched((t) => ({ ...t, [field]: true }))
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    if (sending) return
    setSubmitted(true)
    const invalid = FIELDS.find((f) => errors[f])
    if (invalid) {
      form.current?.querySelector<HTMLInputElement>(`[name="${invalid}"]`)?.focus()
      return
    }
    setSending(true)
    setServerError(null)
    submission.current ??= createIdempotencyKey()
    try {
      const { jobId } = await client.api.tokens.deploy(values, { idempotencyKey: submission.current })
      submission.current = null
      onQueued({ jobId, ...values, submittedAt: new Date().toISOString() })
      setValues(EMPTY)
      setTouched({})
      setSubmitted(false)
    } catch (error) {
      if (error instanceof HeraldApiError && error.status === 401) sessionEnded()
      else setServerError(errorMessage(error))
    } finally {
      setSending(false)
    }
  }

  const nameLength = [...values.name].length
  return (
    <section className="card" aria-labelledby="deploy-title">
      <div className="card__head">
        <h2 id="deploy-title">Deploy a token</h2>
        <p className="muted">
          An ERC-20 with {TOKEN_DECIMALS} decimals, minted to your address. Herald pays the gas.
        </p>
      </div>
      <form ref={form} className="form" onSubmit={submit} noValidate data-testid="deploy-form">
        <Field
          id="deploy-name"
          name="name"
          label="Name"
          placeholder="My Token"
          autoComplete="off"
          value={values.name}
          onChange={(e) => set('name', e.target.value)}
          onBlur={blur('name')}
          error={shown('name')}
          hint={`${nameLength}/${TOKEN_NAME_MAX_CHARS} characters`}
          testId="deploy-name"
        />
        <div className="form__row">
          <Field
            id="deploy-symbol"
            name="symbol"
            label="Symbol"
            placeholder="MTK"
            autoComplete="off"
            autoCapitalize="characters"
            spellCheck={false}
            value={values.symbol}
            onChange={(e) => {
              // Upper case as typed, keeping the caret where it was.
              const input = e.target
              const { selectionStart, selectionEnd } = input
              input.value = input.value.toUpperCase()
              input.setSelectionRange(selectionStart, selectionEnd)
              set('symbol', input.value)
            }}
            onBlur={blur('symbol')}
            error={shown('symbol')}
            hint={`1–${TOKEN_SYMBOL_MAX} letters A–Z or digits`}
            testId="deploy-symbol"
          />
          <Field
            id="deploy-supply"
            name="initialSupply"
            label="Initial supply"
            placeholder="1000000"
            inputMode="numeric"
            autoComplete="off"
            value={values.initialSupply}
            onChange={(e) => set('initialSupply', e.target.value.trim())}
            onBlur={blur('initialSupply')}
            error={shown('initialSupply')}
            hint="Whole tokens"
            testId="deploy-supply"
          />
        </div>
        {serverError && (
          <p className="form-error" role="alert" data-testid="deploy-error">
            {serverError}
          </p>
        )}
        {!chain && (
          <p className="notice small">This server runs without a chain, so deployments are switched off.</p>
        )}
        <button
          type="submit"
          className="herald-button herald-button--large"
          aria-disabled={sending || !chain}
          disabled={!chain}
          data-testid="deploy-submit"
        >
          {sending ? 'Submitting…' : 'Deploy token'}
        </button>
      </form>
    </section>
  )
}
