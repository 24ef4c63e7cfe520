import { useCallback, useEffect, useState } from 'react'
import { RelativeTime, useDataUpdates, useHeraldClient, useWebSocket } from '../../../src/client/react'
import { HeraldApiError, type Token } from '../../../src/client/sdk'
import { useApp } from '../AppContext'
import { useTokenBalance } from '../hooks/useTokenBalance'
import { errorMessage, formatAmount, formatWhole, shortAddress } from '../lib/format'
import { tokenPath } from '../lib/route'
import { AirdropForm } from './AirdropForm'
import { AppLink } from './AppLink'
import { CopyButton } from './CopyButton'
import { TransferForm } from './TransferForm'

/** The user's tokens: fetched once, then kept current by `data_update` (and re-fetched after a reconnection). */
export function TokenList() {
  const client = useHeraldClient()
  const { sessionEnded } = useApp()
  const [tokens, setTokens] = useState<Token[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [fresh, setFresh] = useState<string | null>(null)
  // Bumped per token address when a transfer of it is notified, so its balance is read again.
  const [versions, setVersions] = useState<Record<string, number>>({})

  const load = useCallback(() => {
    client.api.tokens.list().then(
      (r) => {
        setTokens(r.tokens)
        setError(null)
      },
      (e) => {
        if (e instanceof HeraldApiError && e.status === 401) sessionEnded()
        else setError(errorMessage(e))
      },
    )
  }, [client, sessionEnded])
  useEffect(load, [load])

  useDataUpdates<Token>('token', (update) => {
    const token = update.data
    if (!token?.id) return
    setTokens((list) => {
      const rest = (list ?? []).filter((t) => t.id !== token.id)
      return update.action === 'deleted' ? rest : [token, ...rest].sort((a, b) => Number(b.id) - Number(a.id))
    })
    if (update.action === 'created') setFresh(token.id)
  })
  // data_update is not replayed after a reconnection: fetch the list again.
  useWebSocket((message) => {
    if (message.type === 'resumed') load()
  })

  useEffect(
    () =>
      client.on('notification', (n) => {
        const token = (n.data as { token?: unknown } | null)?.token
        if (n.type.startsWith('token_transfer_') && typeof token === 'string')
          setVersions((v) => ({ ...v, [token.toLowerCase()]: (v[token.toLowerCase()] ?? 0) + 1 }))
      }),
    [client],
  )

  return (
    <section className="card" aria-labelledby="tokens-title">
      <div className="card__head card__head--row">
        <h2 id="tokens-title">Your tokens</h2>
        {tokens && tokens.length > 0 && <span className="count">{tokens.length}</span>}
      </div>
      {error && (
        <div className="form-error" role="alert">
          Could not load your tokens: {error}{' '}
          <button type="button" className="herald-link-button" onClick={load}>
            Try again
          </button>
        </div>
      )}
      {tokens === null ? (
        !error && (
          <p className="muted" role="status">
            Loading tokens…
          </p>
        )
      ) : tokens.length === 0 ? (
        <div className="empty" data-testid="token-list-empty">
          <p className="empty__title">No tokens yet</p>
          <p className="muted">Deploy one and it appears here as soon as it is on chain.</p>
        </div>
      ) : (
        <ul className="token-list" data-testid="token-list">
          {tokens.map((token) => (
            <TokenItem
              key={token.id}
              token={token}
              fresh={token.id === fresh}
              version={versions[token.address.toLowerCase()] ?? 0}
            />
          ))}
        </ul>
      )}
    </section>
  )
}

function TokenItem({ token, fresh, version }: { token: Token; fresh: boolean; version: number }) {
  const { session, chain } = useApp()
  const [open, setOpen] = useState(false)
  const [airdrop, setAirdrop] = useState(false)
  const [sent, setSent] = useState(0)
  const { balance } = useTokenBalance(token.address, session?.address, version + sent)
  const formId = `transfer-${token.id}`
  return (
    <li
      className={`token${fresh ? ' token--fresh' : ''}`}
      data-testid="token-item"
      data-address={token.address}
      data-symbol={token.symbol}
    >
      <div className="token__row">
        {/* The symbol itself, whole: the first letters of a name or symbol can name another token. */}
        <span className="token__avatar" aria-hidden="true" data-testid="token-avatar">
          {token.symbol}
        </span>
        <div className="token__main">
          <p className="token__name">
            <AppLink
              href={tokenPath(token.address)}
              data-testid="token-page-link"
              title="Live transfers and holders' room"
            >
              {token.name}
            </AppLink>{' '}
            <span className="token-symbol">{token.symbol}</span>
          </p>
          <p className="token__meta">
            <span className="inline-copy">
              <span className="mono" title={token.address}>
                {shortAddress(token.address)}
              </span>
              <CopyButton value={token.address} label={`Copy ${token.symbol} address`} />
            </span>
            <span aria-hidden="true"> · </span>
            <RelativeTime date={token.createdAt} />
          </p>
        </div>
        <div className="token__side">
          <p className="token__balance" data-testid="token-balance">
            {balance === null ? '—' : formatAmount(balance)} <span className="muted">{token.symbol}</span>
          </p>
          <p className="token__supply muted">of {formatWhole(token.initialSupply)}</p>
        </div>
      </div>
      {chain && (
        <div className="token__actions">
          <button
            type="button"
            className="herald-link-button"
            aria-expanded={open}
            aria-controls={formId}
            onClick={() => setOpen((o) => !o)}
            data-testid="transfer-open"
          >
            {open ? 'Cancel' : 'Send'}
          </button>
          <button
            type="button"
            className="herald-link-button"
            aria-expanded={airdrop}
            onClick={() => setAirdrop((o) => !o)}
            data-testid="airdrop-open"
          >
            {airdrop ? 'Close airdrop' : 'Airdrop'}
          </button>
        </div>
      )}
      {airdrop && <AirdropForm token={token} balance={balance} />}
      {open && (
        <div id={formId}>
          <TransferForm token={token} balance={balance} onSent={() => setSent((n) => n + 1)} />
        </div>
      )}
    </li>
  )
}
