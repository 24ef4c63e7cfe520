import { useCallback, useEffect, useState } from 'react'
import { getBalance } from 'viem/actions'
import { BrowserNotificationsToggle } from '../../../src/client/react'
import { useApp } from '../AppContext'
import { fundOnAnvil, isLocalChain } from '../lib/chain'
import { errorMessage, formatAmount } from '../lib/format'
import { AddressAvatar } from './AddressAvatar'
import { CopyButton } from './CopyButton'
import { PushToggle } from './PushToggle'

/** Who is signed in, with which wallet, on which chain; the dev burner's funding; desktop notifications. */
export function WalletCard() {
  const { session, wallet, chain, config, publicClient } = useApp()
  const [eth, setEth] = useState<bigint | null>(null)
  const [funding, setFunding] = useState<string | null>(null)
  const burner = wallet?.kind === 'burner' && isLocalChain(config)

  const readEth = useCallback(() => {
    if (!burner || !publicClient || !wallet) return
    getBalance(publicClient, { address: wallet.address }).then(setEth, () => setEth(null))
  }, [burner, publicClient, wallet])
  useEffect(readEth, [readEth])

  if (!session) return null
  return (
    <section className="card" aria-labelledby="account-title">
      <div className="card__head">
        <h2 id="account-title">Account</h2>
      </div>
      <div className="account-card">
        <AddressAvatar address={session.address} size={40} />
        <div className="account-card__id">
          <span className="inline-copy">
            <span className="mono account-card__address" data-testid="session-address">
              {session.address}
            </span>
            <CopyButton value={session.address} label="Copy your address" />
          </span>
          <span className="muted small">
            {wallet ? `via ${wallet.name}` : `${session.wallet.name} (not connected in this tab)`}
            {' · '}
            {chain ? `${chain.name}, chain ${chain.id}` : 'no chain configured'}
          </span>
        </div>
      </div>

      {burner && (
        <div className="callout callout--dev" data-testid="burner-panel">
          <p>
            <strong>Development burner wallet.</strong> Its key is stored in this browser: never send it
            anything of value. Deployments are paid by the server; sending tokens needs a little test ETH for
            gas.
          </p>
          <div className="callout__row">
            <span data-testid="burner-balance">
              Gas balance: <strong>{eth === null ? '—' : `${formatAmount(eth)} ETH`}</strong>
            </span>
            <button
              type="button"
              className="herald-button herald-button--secondary"
              aria-disabled={funding === 'busy'}
              onClick={async () => {
                if (!publicClient || !wallet || funding === 'busy') return
                setFunding('busy')
                try {
                  await fundOnAnvil(publicClient, wallet.address)
                  setFunding(null)
                  readEth()
                } catch (error) {
                  setFunding(errorMessage(error))
                }
              }}
              data-testid="burner-fund"
            >
              {funding === 'busy' ? 'Funding…' : 'Add 10 test ETH'}
            </button>
          </div>
          <p className="small muted">
            Uses anvil’s anvil_setBalance on the local chain; it does nothing elsewhere.
          </p>
          {funding && funding !== 'busy' && (
            <p className="form-error" role="alert">
              {funding}
            </p>
          )}
        </div>
      )}

      <div className="card__section">
        <BrowserNotificationsToggle />
        <PushToggle />
      </div>
    </section>
  )
}
