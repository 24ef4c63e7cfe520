import { type ReactNode, useEffect, useLayoutEffect, useMemo, useRef } from 'react'
import { createHeraldClient, type HeraldClient, type HeraldClientOptions, type SessionResponse } from '../sdk'
import { HeraldContext } from './HeraldContext'

export interface HeraldProviderProps {
  /** Base URL of Herald, e.g. `window.location.origin` (the socket is at /ws on it). */
  url: string
  /**
   * The session token; null connects anonymously (broadcasts only). A token of another user (or null ↔ a token)
   * gives a fresh client, so every hook starts over for the new user; a new token of the same user (a refresh)
   * is handed to the open socket with `setToken`. Give either this or `getToken`.
   */
  token?: string | null
  /** Asked for a token when the client connects and after the server refused one; used when `token` is absent. */
  getToken?: () => string | null | Promise<string | null>
  /** The client refreshed the token over HTTP before it expired: persist it (and pass it back as `token`). */
  onTokenRefresh?: (session: SessionResponse) => void
  /**
   * Another tab of this origin signed out (clients share one socket across tabs by default): forget the session
   * here too. This provider signs the other tabs out when its `token` goes from a token to null.
   */
  onSignedOut?: () => void
  /** Other client options (reconnect delays, a WebSocket or fetch implementation); read once per client. */
  options?: Omit<HeraldClientOptions, 'url' | 'getToken' | 'autoConnect'>
  children?: ReactNode
}

/**
 * Holds ONE Herald client for everything below it: it connects on mount, disconnects on unmount, and keeps the
 * client's token in step with the `token` prop.
 */
export function HeraldProvider({
  url,
  token,
  getToken,
  onTokenRefresh,
  onSignedOut,
  options,
  children,
}: HeraldProviderProps) {
  const latest = useRef({ token, getToken, onTokenRefresh, onSignedOut, options })
  useLayoutEffect(() => {
    latest.current = { token, getToken, onTokenRefresh, onSignedOut, options }
  })
  const user = token === undefined ? undefined : userOf(token)

  // biome-ignore lint/correctness/useExhaustiveDependencies: one client per server and per signed-in user; a new token of the same user goes through setToken below.
  const client = useMemo(
    () =>
      createHeraldClient({
        ...latest.current.options,
        url,
        autoConnect: false,
        getToken: () => {
          const current = latest.current
          return current.token !== undefined ? current.token : (current.getToken?.() ?? null)
        },
      }),
    [url, user],
  )

  // The token this client already has: from its creation, from setToken, or from its own refresh.
  const applied = useRef<{ client: HeraldClient; token: string | null | undefined } | null>(null)

  useEffect(() => {
    const off = client.on('token', (session) => {
      if (applied.current?.client === client) applied.current = { client, token: session.token }
      latest.current.onTokenRefresh?.(session)
    })
    const offSignedOut = client.on('signedOut', () => latest.current.onSignedOut?.())
    client.connect()
    return () => {
      off()
      offSignedOut()
      // The token went from a token to null: a sign-out, which signs out the tabs sharing this socket too
      // (an unmount with a token, such as a closing page, is not one).
      if (latest.current.token === null && applied.current?.client === client && applied.current.token)
        client.setToken(null)
      client.disconnect()
    }
  }, [client])

  useEffect(() => {
    const previous = applied.current
    applied.current = { client, token }
    if (token === undefined || previous?.client !== client || previous.token === token) return
    client.setToken(token)
  }, [client, token])

  return <HeraldContext.Provider value={client}>{children}</HeraldContext.Provider>
}

/** The user a JWT names (its `sub`), so a refresh of the same user keeps the client; the token itself otherwise. */
function userOf(token: string | null): string | null {
  if (token === null) return null
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')))
    if (typeof payload?.sub === 'string') return `sub:${payload.sub}`
  } catch {
    // Not a JWT we can read: treat every token as a new user.
  }
  return `token:${token}`
}
