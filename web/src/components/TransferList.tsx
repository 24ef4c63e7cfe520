import { useEffect } from 'react'
import { RelativeTime, transferProgress, useTransfers } from '../../../src/client/react'
import { HeraldApiError, type Transfer } from '../../../src/client/sdk'
import { useApp } from '../AppContext'
import { useTokenMeta } from '../hooks/useTokenMeta'
import { errorMessage, formatAmount, shortAddress, shortHash } from '../lib/format'
import { tokenPath } from '../lib/route'
import { AppLink } from './AppLink'

const ZERO = '0x0000000000000000000000000000000000000000'

/**
 * The user's transfers of watched tokens, each with where it stands on the chain right now: included with
 * n of N confirmations, confirmed, or reorged (a reorganisation took it out of the chain). Live through
 * `data_update`, so a reorganisation shows as it happens.
 */
export function TransferList() {
  const { sessionEnded } = useApp()
  const { transfers, requiredConfirmations, loading, error, reload } = useTransfers({ limit: 20 })
  const refused = error instanceof HeraldApiError && error.status === 401
  useEffect(() => {
    if (refused) sessionEnded()
  }, [refused, sessionEnded])
  return (
    <section className="card" aria-labelledby="transfers-title" data-testid="transfer-list">
      <div className="card__head card__head--row">
        <h2 id="transfers-title">Transfers</h2>
        {requiredConfirmations !== null && (
          <span className="muted small" title="Blocks a transfer needs before it is final and notified">
            final at {requiredConfirmations} confirmation{requiredConfirmations === 1 ? '' : 's'}
          </span>
        )}
      </div>
      {error && !refused && (
        <div className="form-error" role="alert">
          Could not load your transfers: {errorMessage(error)}{' '}
          <button type="button" className="herald-link-button" onClick={reload}>
            Try again
          </button>
        </div>
      )}
      {transfers.length === 0 ? (
        !loading && (
          <div className="empty" data-testid="transfer-list-empty">
            <p className="empty__title">No transfers yet</p>
            <p className="muted">Tokens you send or receive appear here as soon as a block includes them.</p>
          </div>
        )
      ) : (
        <ul className="transfer-list">
          {transfers.map((transfer) => (
            <TransferItem key={transfer.id} transfer={transfer} required={requiredConfirmations} />
          ))}
        </ul>
      )}
    </section>
  )
}

function TransferItem({ transfer, required }: { transfer: Transfer; required: number | null }) {
  const { session } = useApp()
  const meta = useTokenMeta(transfer.token, transfer.standard)
  const me = session?.address.toLowerCase()
  const incoming = transfer.to.toLowerCase() === me
  const direction =
    transfer.from === ZERO ? 'Minted' : transfer.to === ZERO ? 'Burned' : incoming ? 'Received' : 'Sent'
  const counterparty = incoming ? transfer.from : transfer.to
  const symbol = meta?.symbol ?? shortAddress(transfer.token)
  const what =
    transfer.standard === 'erc721'
      ? `${symbol} #${transfer.tokenId}`
      : `${meta ? formatAmount(BigInt(transfer.value ?? '0'), meta.decimals ?? 0) : '…'} ${symbol}`
  const { status, label } = transferProgress(transfer, required)
  return (
    <li
      className={`transfer-item transfer-item--${status}`}
      data-testid="transfer-item"
      data-tx={transfer.txHash}
      data-status={status}
      data-confirmations={transfer.confirmations}
    >
      <div className="transfer-item__row">
        <div className="transfer-item__main">
          <p className="transfer-item__what">
            <span className="transfer-item__direction">{direction}</span>{' '}
            <AppLink
              href={tokenPath(transfer.token)}
              title="The token's page: its live transfers and holders' room"
            >
              {what}
            </AppLink>
          </p>
          <p className="transfer-item__meta">
            {(direction === 'Received' || direction === 'Sent') && (
              <>
                <span className="mono" title={counterparty}>
                  {incoming ? 'from' : 'to'} {shortAddress(counterparty)}
                </span>
                <span aria-hidden="true"> · </span>
              </>
            )}
            <span className="mono" title={transfer.txHash}>
              {shortHash(transfer.txHash)}
            </span>
            <span aria-hidden="true"> · </span>
            <span>
              {status === 'reorged' ? 'was in' : 'in'} block {transfer.blockNumber}
            </span>
            <span aria-hidden="true"> · </span>
            <RelativeTime date={transfer.updatedAt} />
          </p>
        </div>
        <span className={`pill pill--${status}`} data-testid="transfer-status">
          {label}
        </span>
      </div>
      {status === 'included' && required !== null && (
        <div
          className="transfer-item__progress"
          role="progressbar"
          aria-label="Confirmations"
          aria-valuemin={0}
          aria-valuemax={required}
          aria-valuenow={transfer.confirmations}
        >
          <span style={{ width: `${Math.min(100, (100 * transfer.confirmations) / required)}%` }} />
        </div>
      )}
      {status === 'reorged' && (
        <p className="transfer-item__note">
          A chain reorganisation took this transfer out of the chain. It comes back here if a block includes
          it again.
        </p>
      )}
    </li>
  )
}
