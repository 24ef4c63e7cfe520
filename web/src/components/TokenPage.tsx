import { ConnectionStatus } from '../../../src/client/react'
import { useApp } from '../AppContext'
import { useTokenMeta } from '../hooks/useTokenMeta'
import { shortAddress } from '../lib/format'
import { signInPath, tokenPath } from '../lib/route'
import { AccountBadge } from './AccountBadge'
import { AppHeader } from './AppHeader'
import { AppLink } from './AppLink'
import { CopyButton } from './CopyButton'
import { HoldersRoom } from './HoldersRoom'
import { TokenFeed } from './TokenFeed'
import '../tokenPage.css'

/**
 * `/tokens/<address>`: a token's live transfers for anyone who opens it, signed in or not, and its holders'
 * room for those who hold it.
 */
export function TokenPage({ address }: { address: string }) {
  const { session } = useApp()
  const meta = useTokenMeta(address, 'erc20')
  const symbol = meta?.symbol ?? shortAddress(address)
  return (
    <>
      <AppHeader>
        <ConnectionStatus />
        {session ? (
          <AccountBadge />
        ) : (
          <AppLink
            className="herald-button herald-button--secondary"
            href={signInPath(tokenPath(address))}
            data-testid="header-sign-in"
          >
            Sign in
          </AppLink>
        )}
      </AppHeader>
      <main className="page" data-testid="token-page" data-address={address}>
        <div className="page__head">
          <p className="small">
            <AppLink href="/" className="herald-link-button">
              ← {session ? 'Dashboard' : 'Home'}
            </AppLink>
          </p>
          <h1>{meta?.symbol ?? 'Token'}</h1>
          <p className="token-page__address">
            <span className="mono small" title={address}>
              {address}
            </span>
            <CopyButton value={address} label="Copy the token's address" />
          </p>
          <p className="muted">
            Every transfer of this token, live, as Herald's watcher sees it on the chain. Anyone can follow
            it; the holders' room is for those who hold it.
          </p>
        </div>
        <div className="grid">
          <div className="grid__col">
            <TokenFeed address={address} meta={meta} />
          </div>
          <div className="grid__col">
            <HoldersRoom address={address} symbol={symbol} />
          </div>
        </div>
      </main>
    </>
  )
}
