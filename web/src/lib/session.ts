import type { Address } from 'viem'
import { storage } from './storage'

export interface WalletRef {
  kind: 'burner' | 'injected'
  /** 'burner', an EIP-6963 rdns, or 'injected' for window.ethereum. */
  id: string
  name: string
}

/** What survives a reload: the session token and which wallet signed in. */
export interface StoredSession {
  token: string
  expiresAt: string
  userId: string
  address: Address
  wallet: WalletRef
}

const KEY = 'herald.session'

export function loadSession(): StoredSession | null {
  const value = storage.getJson<StoredSession>(KEY)
  return value && typeof value.token === 'string' && typeof value.address === 'string' ? value : null
}

export function saveSession(session: StoredSession): void {
  storage.setJson(KEY, session)
}

export function clearSession(): void {
  storage.remove(KEY)
}

/**
 * Calls `onSaved` when another tab of the origin saves a session (a sign-in there): the tabs share one socket and
 * one session, so a tab on the sign-in screen follows. (The storage event never fires in the tab that wrote.)
 */
export function onSessionSavedElsewhere(onSaved: (session: StoredSession) => void): () => void {
  const listener = (event: StorageEvent) => {
    if (event.key !== KEY || !event.newValue) return
    const session = loadSession()
    if (session) onSaved(session)
  }
  window.addEventListener('storage', listener)
  return () => window.removeEventListener('storage', listener)
}
