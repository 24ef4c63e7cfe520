import { ConnectionStatus, NotificationBell, Toasts, useNotifications } from '../../../src/client/react'
import { useApp } from '../AppContext'
import { shortAddress } from '../lib/format'
import { AddressAvatar } from './AddressAvatar'
import { AppHeader } from './AppHeader'
import { Dashboard } from './Dashboard'

/** The signed-in layout: header with connection state, bell and account; the dashboard; toasts. */
export function SignedInApp() {
  const { session, signOut } = useApp()
  const inbox = useNotifications()
  if (!session) return null
  return (
    <>
      <AppHeader>
        <ConnectionStatus />
        <NotificationBell inbox={inbox} />
        <div className="account">
          <AddressAvatar address={session.address} size={26} />
          <span className="account__address" title={session.address} data-testid="account-address">
            {shortAddress(session.address)}
          </span>
          <button
            type="button"
            className="herald-button herald-button--secondary account__signout"
            onClick={() => void signOut()}
            data-testid="sign-out"
          >
            Sign out
          </button>
        </div>
      </AppHeader>
      <Dashboard inbox={inbox} />
      {/* Under the header, not at the foot of the page where the account card's controls are. */}
      <Toasts placement="top-right" />
    </>
  )
}
