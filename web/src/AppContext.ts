import { createContext, useContext } from 'react'
import type { Chain } from 'viem'
import type { ChainClient, ServerConfig } from './lib/chain'
import type { StoredSession } from './lib/session'
import type { ConnectedWallet, InjectedWallet } from './lib/wallets'

export interface AppState {
  config: ServerConfig
  /** The server's chain; null when it runs without one (no deployments, no transfers). */
  chain: Chain | null
  publicClient: ChainClient | null
  session: StoredSession | null
  wallet: ConnectedWallet | null
  injected: { wallets: InjectedWallet[]; ready: boolean }
  /** Connects a wallet (a prompt for injected ones); throws with the wallet's reason. */
  connect: (target: InjectedWallet | 'burner') => Promise<ConnectedWallet>
  disconnectWallet: () => void
  signIn: () => Promise<void>
  signOut: () => Promise<void>
  /** The server refused the session (revoked, expired): back to the sign-in screen with a note. */
  sessionEnded: () => void
}

export const AppContext = createContext<AppState | null>(null)

export function useApp(): AppState {
  const app = useContext(AppContext)
  if (!app) throw new Error('useApp: render inside <AppContext.Provider>.')
  return app
}
