import { useSyncExternalStore } from 'react'
import { type Address, getAddress, isAddress } from 'viem'

// The app's two places, read from the path (Herald serves index.html for any path that is not a file):
// the home page (sign-in or dashboard) and a token's page, `/tokens/<address>`. No router library: the history
// API, and one event so every reader sees a navigation.

export type Route = { page: 'home' } | { page: 'token'; address: Address } | { page: 'unknown' }

export function parseRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '') return { page: 'home' }
  const token = /^\/tokens\/([^/]+)\/?$/.exec(pathname)
  if (token && isAddress(token[1]!, { strict: false }))
    return { page: 'token', address: getAddress(token[1]!) }
  return { page: 'unknown' }
}

export const tokenPath = (address: string) => `/tokens/${getAddress(address)}`

const NAVIGATED = 'herald:navigated'

/** Goes to `path` in this tab, without a page load. */
export function navigate(path: string, options: { replace?: boolean } = {}) {
  if (options.replace) window.history.replaceState(null, '', path)
  else window.history.pushState(null, '', path)
  window.scrollTo(0, 0)
  window.dispatchEvent(new Event(NAVIGATED))
}

const subscribe = (onChange: () => void) => {
  window.addEventListener('popstate', onChange)
  window.addEventListener(NAVIGATED, onChange)
  return () => {
    window.removeEventListener('popstate', onChange)
    window.removeEventListener(NAVIGATED, onChange)
  }
}

/** The current path and query, as a string (stable between renders for useSyncExternalStore). */
export function useLocation(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname + window.location.search)
}

/**
 * Where to go back after signing in: `?next=<path>` on the home page, when it is one of the app's own pages
 * (never another origin).
 */
export function nextPath(search: string): string | null {
  const next = new URLSearchParams(search).get('next')
  if (!next?.startsWith('/') || next.startsWith('//')) return null
  return parseRoute(next).page === 'token' ? next : null
}

export const signInPath = (returnTo: string) => `/?next=${encodeURIComponent(returnTo)}`
