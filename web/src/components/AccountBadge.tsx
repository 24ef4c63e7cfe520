import { useApp } from '../AppContext'
import { shortAddress } from '../lib/format'
import { AddressAvatar } from './AddressAvatar'

/** The signed-in account in the header: its address and the way out. */
export function AccountBadge() {
  const { session, signOut } = useApp()
  if (!session) return null
  return (
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
  )
}
