import { ConnectionStatus, NotificationBell, Toasts, useNotifications } from '../../../src/client/react'
import { useApp } from '../AppContext'
import { AccountBadge } from './AccountBadge'
import { AppHeader } from './AppHeader'
import { Dashboard } from './Dashboard'

/** The signed-in layout: header with connection state, bell and account; the dashboard; toasts. */
export function SignedInApp() {
  const { session } = useApp()
  const inbox = useNotifications()
  if (!session) return null
  return (
    <>
      <AppHeader>
        <ConnectionStatus />
        <NotificationBell inbox={inbox} />
        <AccountBadge />
      </AppHeader>
      <Dashboard inbox={inbox} />
      {/* Under the header, not at the foot of the page where the account card's controls are. */}
      <Toasts placement="top-right" />
    </>
  )
}
