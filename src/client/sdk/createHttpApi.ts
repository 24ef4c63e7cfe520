import type {
  ArchiveResponse,
  ChainInfo,
  ChannelHistoryResponse,
  ChannelPresenceResponse,
  CreateTokenBody,
  ErrorBody,
  Job,
  ListNotificationsResponse,
  ListTransfersResponse,
  MarkAllReadResponse,
  MarkReadResponse,
  MarkSeenResponse,
  Preferences,
  PreferencesBody,
  SessionResponse,
  Token,
  UnreadCountResponse,
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
    /** The inbox (or with `archived: true` the archive), newest first; `type` keeps only those types. */
    list(params?: {
      limit?: number
      before?: number
      unread?: boolean
      archived?: boolean
      type?: string | readonly string[]
    }): Promise<ListNotificationsResponse>
    /** The counts with the seq and version they stand at (docs/protocol.md §7). */
    unreadCount(): Promise<UnreadCountResponse>
    markRead(id: string, options?: WriteOptions): Promise<MarkReadResponse>
    /** Every notification up to `upToSeq` (default: the latest) read. */
    markAllRead(options?: WriteOptions & { upToSeq?: number }): Promise<MarkAllReadResponse>
    /** Every notification up to `upToSeq` (default: the latest) seen: what opening the list does. */
    markSeen(options?: WriteOptions & { upToSeq?: number }): Promise<MarkSeenResponse>
    archive(id: string, options?: WriteOptions): Promise<ArchiveResponse>
    unarchive(id: string, options?: WriteOptions): Promise<ArchiveResponse>
    /** Every type the user has received (for a preferences panel). */
    types(): Promise<{ types: string[] }>
  }
  /** Per-type choices for in-app and push (docs/protocol.md §7). */
  preferences: {
    get(): Promise<Preferences>
    /** Replaces them; types not named follow `default`. Every connection of the user gets `preferences`. */
    set(preferences: PreferencesBody): Promise<Preferences>
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

  /** A list value repeats its name (`type=a&type=b`). */
  const query = (params: Record<string, string | number | boolean | readonly string[] | undefined>) => {
    const pairs: [string, string][] = []
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined) continue
      if (Array.isArray(v)) for (const item of v) pairs.push([k, String(item)])
      else pairs.push([k, String(v)])
    }
    return pairs.length ? `?${new URLSearchParams(pairs)}` : ''
  }
  const upTo = (upToSeq: number | undefined) => (upToSeq === undefined ? {} : { upToSeq })
  const one = (id: string, action: string, write?: WriteOptions) =>
    call<never>('POST', `/api/notifications/${encodeURIComponent(id)}/${action}`, undefined, true, write)

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
      markRead: (id, write) => one(id, 'read', write),
      markAllRead: ({ upToSeq, ...write } = {}) =>
        call('POST', '/api/notifications/read-all', upTo(upToSeq), true, write),
      markSeen: ({ upToSeq, ...write } = {}) =>
        call('POST', '/api/notifications/seen', upTo(upToSeq), true, write),
      archive: (id, write) => one(id, 'archive', write),
      unarchive: (id, write) => one(id, 'unarchive', write),
      types: () => call('GET', '/api/notifications/types'),
    },
    preferences: {
      get: () => call('GET', '/api/preferences'),
      set: (preferences) => call('PUT', '/api/preferences', preferences),
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
