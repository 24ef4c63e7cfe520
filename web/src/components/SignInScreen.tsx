import { useState } from 'react'
import { ConnectionStatus } from '../../../src/client/react'
import { useApp } from '../AppContext'
import { isLocalChain } from '../lib/chain'
import { errorMessage, shortAddress } from '../lib/format'
import type { InjectedWallet } from '../lib/wallets'
import { AddressAvatar } from './AddressAvatar'
import { AppHeader } from './AppHeader'
import { Logo } from './Logo'

/** Signed out: pick a wallet (EIP-6963 ones, window.ethereum, or the local burner), then sign in with it. */
export function SignInScreen({ notice }: { notice: string | null }) {
  const { config, injected, wallet, connect, disconnectWallet, signIn } = useApp()
  const [busy, setBusy] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const burnerOffered = isLocalChain(config)

  const run = async (id: string, action: () => Promise<unknown>) => {
    if (busy !== null) return
    setBusy(id)
    setError(null)
    try {
      await action()
    } catch (e) {
      setError(errorMessage(e))
    } finally {
      setBusy(null)
    }
  }
  const pick = (target: InjectedWallet | 'burner') =>
    run(target === 'burner' ? 'burner' : target.id, () => connect(target))

  return (
    <>
      <AppHeader>
        <ConnectionStatus />
      </AppHeader>
      <main className="signin">
        <section className="card signin__card" aria-labelledby="signin-title">
          <Logo size={44} />
          <h1 id="signin-title">Sign in to Herald</h1>
          <p className="muted">
            Connect a wallet and sign a message to prove it is yours. Signing is free: no transaction, no gas.
          </p>
          {notice && (
            <p className="notice" role="status" data-testid="session-notice">
              {notice}
            </p>
          )}

          {!wallet ? (
            <>
              <h2 className="section-label">Choose a wallet</h2>
              <ul className="wallet-list">
                {injected.wallets.map((w) => (
                  <li key={w.id}>
                    <button
                      type="button"
                      className="wallet-option"
                      onClick={() => void pick(w)}
                      aria-disabled={busy !== null}
                      data-testid="connect-injected"
                      data-wallet-id={w.id}
                    >
                      {w.icon ? (
                        <img src={w.icon} alt="" width={28} height={28} className="wallet-option__icon" />
                      ) : (
                        <span
                          className="wallet-option__icon wallet-option__icon--generic"
                          aria-hidden="true"
                        />
                      )}
                      <span className="wallet-option__text">
                        <span className="wallet-option__name">{w.name}</span>
                        <span className="wallet-option__hint">
                          {busy === w.id ? 'Check your wallet…' : 'Browser wallet'}
                        </span>
                      </span>
                    </button>
                  </li>
                ))}
                {burnerOffered && (
                  <li>
                    <button
                      type="button"
                      className="wallet-option"
                      onClick={() => void pick('burner')}
                      aria-disabled={busy !== null}
                      data-testid="connect-burner"
                    >
                      <span className="wallet-option__icon wallet-option__icon--burner" aria-hidden="true">
                        <svg
                          aria-hidden="true"
                          viewBox="0 0 24 24"
                          width="16"
                          height="16"
                          fill="none"
                          stroke="currentColor"
                          strokeWidth="2"
                        >
                          <path d="M12 3c1 3.5 5 5.5 5 10a5 5 0 01-10 0c0-2 1-3.5 2-4.5.3 1.7 1.2 2.7 2.3 3C10.6 9 11 6 12 3z" />
                        </svg>
                      </span>
                      <span className="wallet-option__text">
                        <span className="wallet-option__name">
                          Burner wallet <span className="tag tag--dev">Dev only</span>
                        </span>
                        <span className="wallet-option__hint">
                          A throwaway key kept in this browser, for the local chain
                        </span>
                      </span>
                    </button>
                  </li>
                )}
              </ul>
              {injected.ready && injected.wallets.length === 0 && (
                <p className="muted small" data-testid="no-wallet">
                  No browser wallet found. Install one such as MetaMask or Rabby and reload
                  {burnerOffered ? ', or use the burner wallet for local development.' : '.'}
                </p>
              )}
            </>
          ) : (
            <div className="signin__connected">
              <div className="connected-wallet">
                <AddressAvatar address={wallet.address} size={36} />
                <div>
                  <div className="connected-wallet__name">{wallet.name}</div>
                  <div className="mono" title={wallet.address} data-testid="wallet-address">
                    {shortAddress(wallet.address)}
                  </div>
                </div>
              </div>
              <button
                type="button"
                className="herald-button herald-button--large"
                onClick={() => void run('sign-in', signIn)}
                aria-disabled={busy !== null}
                data-testid="sign-in"
              >
                {busy === 'sign-in' ? 'Waiting for your signature…' : 'Sign in with Ethereum'}
              </button>
              <button
                type="button"
                className="herald-link-button"
                onClick={() => {
                  setError(null)
                  disconnectWallet()
                }}
                data-testid="disconnect-wallet"
              >
                Use a different wallet
              </button>
            </div>
          )}

          {error && (
            <p className="form-error" role="alert" data-testid="sign-in-error">
              {error}
            </p>
          )}
        </section>

        <ul className="features" aria-label="What Herald does">
          <li>
            <strong>Live, never lost</strong>
            <span>Notifications arrive the moment they happen and wait for you while you are away.</span>
          </li>
          <li>
            <strong>Every step of a deployment</strong>
            <span>Queued, running, transaction sent, deployed: watch your token go on chain.</span>
          </li>
          <li>
            <strong>Same in every tab</strong>
            <span>Read one notification here and it is read everywhere you are signed in.</span>
          </li>
        </ul>
      </main>
    </>
  )
}
