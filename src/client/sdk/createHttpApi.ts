import type {
  ChainInfo,
  ChannelHistoryResponse,
  ChannelPresenceResponse,
  CreateTokenBody,
  ErrorBody,
  Job,
  ListNotificationsResponse,
  ListTransfersResponse,
  Notification,
  SessionResponse,
  Token,
  User,
} from '../../shared/protocol'
import { IDEMPOTENCY_KEY_HEADER } from '../../shared/protocol/idempotency'

/** An HTTP error in the contract's shape: `code` is the machine-readable part, `status` the HTTP status. */
export class HeraldApiError extends Error {
  readonly code: string
  readonly status: number
  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'HeraldApiError'
    this.status = status
    this.code = code
  }
}

export interface HttpApiOptions {
  /** Base URL of Herald, e.g. http://127.0.0.1:3000. */
  url: string
  /** The current session token, or null when signed out. */
  token: () => string | null | Promise<string | null>
  fetch?: typeof fetch
}

/** Options of the calls that change state (docs/protocol.md §6). */
export interface WriteOptions {
  /**
   * Names the operation, so sending it again (after a timeout, a dropped connection, a double click) runs it
   * once: the server answers a repeat with the first answer. One key per operation, 1–255 printable ASCII
   * characters; `createIdempotencyKey()` makes one.
   */
  idempotencyKey?: string
}

export interface HttpApi {
  auth: {
    config(): Promise<{
      chainId: number
      rpcUrl: string | null
      siweDomain: string
      version: string
      deployerAddress: string | null
    }>
    nonce(): Promise<{ nonce: string; expiresAt: string }>
    verify(message: string, signature: string): Promise<SessionResponse>
    refresh(): Promise<SessionResponse>
    logout(): Promise<void>
    me(): Promise<User>
  }
  notifications: {
    list(params?: { limit?: number; before?: number; unread?: boolean }): Promise<ListNotificationsResponse>
    unreadCount(): Promise<{ unreadCount: number; seq: number }>
    markRead(id: string, options?: WriteOptions): Promise<{ notification: Notification; unreadCount: number }>
    markAllRead(options?: WriteOptions): Promise<{ updated: number; unreadCount: 0 }>
  }
  tokens: {
    deploy(body: CreateTokenBody, options?: WriteOptions): Promise<{ jobId: string }>
    list(): Promise<{ tokens: Token[] }>
  }
  jobs: {
    get(id: string): Promise<Job>
    /** The caller's jobs, newest first; page on with `nextBefore`. */
    list(params?: { status?: string; type?: string; before?: string; limit?: number }): Promise<{
      jobs: Job[]
      nextBefore: string | null
    }>
    /** Starts a job of a user-startable type (`deploy_token`, `airdrop`, or the app's own). */
    start(type: string, input: unknown, options?: WriteOptions): Promise<{ job: Job }>
    /** Cancels a pending or running job (409 once it has ended). */
    cancel(id: string): Promise<{ job: Job }>
  }
  transfers: {
    /** Transfers the caller sent or received, newest first, with their status; page on with `nextBefore`. */
    list(params?: { token?: string; before?: string; limit?: number }): Promise<ListTransfersResponse>
  }
  /** How many confirmations make a transfer final, and how deep a reorganisation Herald follows exactly. */
  chain: { info(): Promise<ChainInfo> }
  /**
   * A channel's history (newest first) and presence. Anonymous for `public:`/`token:`; signed in otherwise
   * (the session token goes along whenever there is one), with the subscription token of a `private:` channel.
   */
  channels: {
    history(
      channel: string,
      params?: { limit?: number; before?: number; channelToken?: string },
    ): Promise<ChannelHistoryResponse>
    presence(channel: string, params?: { channelToken?: string }): Promise<ChannelPresenceResponse>
  }
}

/** Typed calls for every route of the contract; errors become HeraldApiError. */
export function createHttpApi(options: HttpApiOptions): HttpApi {
  const base = options.url.replace(/\/+$/, '')
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))

  /** `authenticated`: true needs the session token, 'optional' sends it when there is one. */
  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    authenticated: boolean | 'optional' = true,
    write: WriteOptions = {},
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = { ...extraHeaders }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (write.idempotencyKey !== undefined) headers[IDEMPOTENCY_KEY_HEADER] = write.idempotencyKey
    if (authenticated) {
      const token = await options.token()
      if (!token && authenticated === true) throw new HeraldApiError(401, 'UNAUTHORIZED', 'Not signed in.')
      if (token) headers.authorization = `Bearer ${token}`
    }
    const response = await doFetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (response.status === 204) return undefined as T
    const text = await response.text()
    let parsed: unknown = null
    try {
      parsed = text ? JSON.parse(text) : null
    } catch {
      // A proxy's HTML error page, say: reported below with the status.
    }
    if (!response.ok) {
      const error = (parsed as ErrorBody | null)?.error
      throw new HeraldApiError(
        response.status,
        error?.code ?? 'HTTP_ERROR',
        error?.message ?? `HTTP ${response.status} from ${path}`,
      )
    }
    return parsed as T
  }

  const query = (params: Record<string, string | number | boolean | undefined>) => {
    const entries = Object.entries(params).filter(([, v]) => v !== undefined) as [string, string][]
    return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : ''
  }

  return {
    auth: {
      config: () => call('GET', '/api/config', undefined, false),
      nonce: () => call('POST', '/api/auth/nonce', undefined, false),
      verify: (message, signature) => call('POST', '/api/auth/verify', { message, signature }, false),
      refresh: () => call('POST', '/api/auth/refresh'),
      logout: () => call('POST', '/api/auth/logout'),
      me: () => call('GET', '/api/me'),
    },
    notifications: {
      list: (params = {}) => call('GET', `/api/notifications${query(params)}`),
      unreadCount: () => call('GET', '/api/notifications/unread-count'),
      markRead: (id, write) =>
        call('POST', `/api/notifications/${encodeURIComponent(id)}/read`, undefined, true, write),
      markAllRead: (write) => call('POST', '/api/notifications/read-all', undefined, true, write),
    },
    tokens: {
      deploy: (body, write) => call('POST', '/api/tokens', body, true, write),
      list: () => call('GET', '/api/tokens'),
    },
    jobs: {
      get: (id) => call('GET', `/api/jobs/${encodeURIComponent(id)}`),
      list: (params = {}) => call('GET', `/api/jobs${query(params)}`),
      start: (type, input, write) => call('POST', '/api/jobs', { type, input }, true, write),
      cancel: (id) => call('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`),
    },
    transfers: { list: (params = {}) => call('GET', `/api/transfers${query(params)}`) },
    chain: { info: () => call('GET', '/api/chain', undefined, false) },
    channels: {
      history: (channel, { channelToken, ...params } = {}) =>
        call(
          'GET',
          `/api/channels/${encodeURIComponent(channel)}/publications${query(params)}`,
          undefined,
          'optional',
          {},
          channelToken ? { 'channel-token': channelToken } : {},
        ),
      presence: (channel, { channelToken } = {}) =>
        call(
          'GET',
          `/api/channels/${encodeURIComponent(channel)}/presence`,
          undefined,
          'optional',
          {},
          channelToken ? { 'channel-token': channelToken } : {},
        ),
    },
  }
}
