import type { SessionResponse } from '../../shared/protocol'

// The session token: which one to use, and refreshing it over HTTP before it expires.

export interface TokenStore {
  /** The token to authenticate with; asks getToken when there is none yet (null: anonymous). */
  current(): Promise<string | null>
  /** setToken(): returns the previous token (undefined: none looked up yet). */
  set(next: string | null): string | null | undefined
  /**
   * `token` was sent on the open socket to replace the current one: if that socket refuses it (it belongs
   * to another user), the fresh connection tries it again before getToken is asked.
   */
  switchingTo(token: string): void
  /** The server took the token. */
  accepted(): void
  /** The server refused the token (close 4001): the next connection looks for another. */
  refused(): void
  /** A refreshed token replaces the current one. */
  refreshed(token: string): void
  /** The session is over: the next connection asks getToken. */
  forget(): void
}

export function createTokenStore(getToken?: () => string | null | Promise<string | null>): TokenStore {
  let token: string | null | undefined // undefined: ask getToken
  let switching: string | null = null
  return {
    async current() {
      if (token === undefined) token = (await getToken?.()) ?? null
      return token
    },
    set(next) {
      const previous = token
      token = next
      switching = null
      return previous
    },
    switchingTo(next) {
      switching = next
    },
    accepted() {
      switching = null
    },
    refused() {
      if (token && token === switching) switching = null
      else token = undefined
    },
    refreshed(next) {
      token = next
    },
    forget() {
      token = undefined
    },
  }
}

/**
 * How long after `now` to refresh a token that expires at `expiresAt`: `refreshBeforeMs` ahead (by default a
 * tenth of what is left, 5 s to 60 s), never more than half of what is left: a window as long as the token (a
 * 3 s token against the 5 s floor) would refresh again the moment each refresh lands, in a loop.
 */
export function refreshDelayMs(expiresAt: string, now: number, refreshBeforeMs?: number): number {
  const remaining = Date.parse(expiresAt) - now
  const before = Math.min(remaining / 2, refreshBeforeMs ?? Math.min(60_000, Math.max(5_000, remaining / 10)))
  return Math.max(0, remaining - before)
}

export interface TokenRefresh {
  /** Refreshes ahead of `expiresAt`, replacing any refresh scheduled before. */
  schedule(expiresAt: string): void
  cancel(): void
}

export function createTokenRefresh(options: {
  refresh: () => Promise<SessionResponse>
  refreshBeforeMs?: number
  onRefreshed: (session: SessionResponse) => void
  /** The session is over (logged out elsewhere, or past its end). */
  onFailed: () => void
}): TokenRefresh {
  let timer: ReturnType<typeof setTimeout> | null = null
  const cancel = () => {
    if (timer) clearTimeout(timer)
    timer = null
  }
  return {
    schedule(expiresAt) {
      cancel()
      timer = setTimeout(
        () => {
          timer = null
          options.refresh().then(options.onRefreshed, options.onFailed)
        },
        refreshDelayMs(expiresAt, Date.now(), options.refreshBeforeMs),
      )
    },
    cancel,
  }
}
