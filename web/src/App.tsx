import { useCallback, useEffect, useMemo, useState } from 'react'
import { createClient, custom, getAddress } from 'viem'
import { HeraldProvider } from '../../src/client/react'
import { createHttpApi, HeraldApiError, type SessionResponse } from '../../src/client/sdk'
import { AppContext, type AppState } from './AppContext'
import { AppHeader } from './components/AppHeader'
import { NotificationEvents } from './components/NotificationEvents'
import { SessionWatcher } from './components/SessionWatcher'
import { SignedInApp } from './components/SignedInApp'
import { SignInScreen } from './components/SignInScreen'
import { TokenPage } from './components/TokenPage'
import { useInjectedWallets } from './hooks/useInjectedWallets'
import { chainClientOf, chainOf, type ServerConfig } from './lib/chain'
import { errorMessage } from './lib/format'
import { disablePush } from './lib/push'
import { navigate, nextPath, parseRoute, useLocation } from './lib/route'
import {
  clearSession,
  loadSession,
  onSessionSavedElsewhere,
  type StoredSession,
  saveSession,
} from './lib/session'
import { signInWithWallet } from './lib/signIn'
import { type ConnectedWallet, connectBurner, connectInjected, type InjectedWallet } from './lib/wallets'

/** The app is served by Herald itself (or by Vite's dev server, which proxies /api and /ws to it). */
const HERALD_URL = window.location.origin
const publicApi = createHttpApi({ url: HERALD_URL, token: () => null })

type Boot =
  | { status: 'loading' }
  | { status: 'error'; message: string }
  | { status: 'ready'; config: ServerConfig }

export function App() {
  const [boot, setBoot] = useState<Boot>({ status: 'loading' })
  const [session, setSession] = useState<StoredSession | null>(null)
  const [wallet, setWallet] = useState<ConnectedWallet | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const injected = useInjectedWallets()
  const location = useLocation()
  const route = parseRoute(location.split('?')[0] ?? '/')

  const start = useCallback(async () => {
    setBoot({ status: 'loading' })
    try {
      const config = await publicApi.auth.config()
      const stored = loadSession()
      if (stored) {
        try {
          // The stored token may have been revoked or expired while the tab was closed.
          const me = await createHttpApi({ url: HERALD_URL, token: () => stored.token }).auth.me()
          if (me.address.toLowerCase() === stored.address.toLowerCase()) setSession(stored)
          else clearSession()
        } catch (error) {
          if (error instanceof HeraldApiError && error.status === 401) {
            clearSession()
            setNotice('Your session has ended. Sign in again to continue.')
          } else setSession(stored) // The server is unreachable for a moment: keep the session, the socket retries.
        }
      }
      setBoot({ status: 'ready', config })
    } catch (error) {
      setBoot({ status: 'error', message: errorMessage(error) })
    }
  }, [])
  useEffect(() => {
    void start()
  }, [start])

  const config = boot.status === 'ready' ? boot.config : null
  const chain = useMemo(() => (config ? chainOf(config) : null), [config])
  const publicClient = useMemo(() => (chain ? chainClientOf(chain) : null), [chain])

  // After a reload: the burner comes back from storage; an injected wallet only if it still shares the account
  // (eth_accounts, no prompt).
  useEffect(() => {
    if (!config || !session || wallet) return
    const same = (w: ConnectedWallet | null) => w && w.address.toLowerCase() === session.address.toLowerCase()
    if (session.wallet.kind === 'burner') {
      const burner = connectBurner(chain)
      if (same(burner)) setWallet(burner)
      return
    }
    const match = injected.wallets.find((w) => w.id === session.wallet.id)
    if (!match) return
    let cancelled = false
    connectInjected(match, chain, true).then(
      (w) => {
        if (!cancelled && same(w)) setWallet(w)
      },
      () => {},
    )
    return () => {
      cancelled = true
    }
  }, [config, session, wallet, chain, injected.wallets])

  // The user picked another account (or locked the wallet) in the extension.
  const provider = wallet?.provider ?? null
  useEffect(() => {
    if (!provider?.on) return
    const onAccounts = (...args: unknown[]) => {
      const first = (args[0] as string[] | undefined)?.[0]
      if (!first) {
        setWallet(null)
        return
      }
      const address = getAddress(first)
      setWallet((w) =>
        w && w.provider === provider
          ? {
              ...w,
              address,
              client: createClient({
                account: address,
                chain: chain ?? undefined,
                transport: custom(provider),
              }),
            }
          : w,
      )
    }
    provider.on('accountsChanged', onAccounts)
    return () => provider.removeListener?.('accountsChanged', onAccounts)
  }, [provider, chain])

  const connect = useCallback(
    async (target: InjectedWallet | 'burner') => {
      const connected = target === 'burner' ? connectBurner(chain) : await connectInjected(target, chain)
      if (!connected) throw new Error('The wallet did not share an account.')
      setWallet(connected)
      return connected
    },
    [chain],
  )

  const signIn = useCallback(async () => {
    if (!wallet) throw new Error('Connect a wallet first.')
    const result = await signInWithWallet(publicApi, wallet)
    const stored: StoredSession = {
      token: result.token,
      expiresAt: result.expiresAt,
      userId: result.user.id,
      address: getAddress(result.user.address),
      wallet: { kind: wallet.kind, id: wallet.id, name: wallet.name },
    }
    saveSession(stored)
    setNotice(null)
    setSession(stored)
    // Sent here to sign in from a token's page: back to it.
    const next = nextPath(window.location.search)
    if (next) navigate(next, { replace: true })
  }, [wallet])

  const signOut = useCallback(async () => {
    if (!session) return
    const { token } = session
    clearSession()
    setSession(null)
    setWallet(null)
    // This browser's Web Push subscription goes first, while the token still works; never for long.
    await Promise.race([
      disablePush(HERALD_URL, token).catch(() => {}),
      new Promise((r) => setTimeout(r, 3000)),
    ])
    try {
      await createHttpApi({ url: HERALD_URL, token: () => token }).auth.logout()
    } catch {
      // Already over on the server, or unreachable: locally the session is gone either way.
    }
  }, [session])

  const sessionEnded = useCallback(() => {
    clearSession()
    setSession(null)
    setWallet(null)
    setNotice('Your session has ended. Sign in again to continue.')
  }, [])

  // Signed in in another tab: a tab without a session takes it (one that has one keeps its own, and follows
  // refreshes through the shared socket's token event).
  useEffect(
    () =>
      onSessionSavedElsewhere((stored) => {
        setSession((current) => current ?? stored)
        setNotice(null)
      }),
    [],
  )

  // Signed out in another tab (the tabs share one socket, and one session).
  const signedOutElsewhere = useCallback(() => {
    clearSession()
    setSession(null)
    setWallet(null)
    setNotice('You signed out in another tab.')
  }, [])

  const onTokenRefresh = useCallback((fresh: SessionResponse) => {
    setSession((current) => {
      if (!current) return current
      const next = { ...current, token: fresh.token, expiresAt: fresh.expiresAt }
      saveSession(next)
      return next
    })
  }, [])

  if (boot.status !== 'ready')
    return (
      <>
        <AppHeader />
        <main className="boot">
          {boot.status === 'loading' ? (
            <p className="muted" role="status">
              Loading Herald…
            </p>
          ) : (
            <div className="card boot__error" role="alert" data-testid="boot-error">
              <h1>Herald is not reachable</h1>
              <p>{boot.message}</p>
              <button type="button" className="herald-button" onClick={() => void start()}>
                Try again
              </button>
            </div>
          )}
        </main>
      </>
    )

  const app: AppState = {
    config: boot.config,
    chain,
    publicClient,
    session,
    wallet,
    injected,
    connect,
    disconnectWallet: () => setWallet(null),
    signIn,
    signOut,
    sessionEnded,
  }

  return (
    <AppContext.Provider value={app}>
      <HeraldProvider
        url={HERALD_URL}
        token={session?.token ?? null}
        onTokenRefresh={onTokenRefresh}
        onSignedOut={signedOutElsewhere}
      >
        {session && (
          <>
            <SessionWatcher />
            <NotificationEvents />
          </>
        )}
        {route.page === 'token' ? (
          <TokenPage key={route.address} address={route.address} />
        ) : session ? (
          <SignedInApp key={session.userId} />
        ) : (
          <SignInScreen notice={notice} />
        )}
      </HeraldProvider>
    </AppContext.Provider>
  )
}
