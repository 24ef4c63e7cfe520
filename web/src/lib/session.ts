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
