import RWS from 'partysocket/ws'
import type {
  AuthenticatedMessage,
  BroadcastMessage,
  DataUpdateMessage,
  ErrorMessage,
  JobStatusMessage,
  Notification,
  ReadStateMessage,
  ResetMessage,
  ResumedMessage,
  ServerMessage,
  SessionResponse,
} from '../../shared/protocol'
import { createHttpApi, type HttpApi } from './createHttpApi'

export type ConnectionState =
  /** Not started, or stopped by disconnect(). */
  | 'idle'
  | 'connecting'
  | 'authenticating'
  /** Authenticated and caught up (or anonymous and receiving broadcasts). */
  | 'connected'
  | 'reconnecting'
  /** Stopped for a reason reconnecting cannot fix; see `closedReason`. */
  | 'closed'

export interface HeraldClientEvents {
  notification: (notification: Notification) => void
  job_status: (message: JobStatusMessage) => void
  data_update: (message: DataUpdateMessage) => void
  read_state: (message: ReadStateMessage) => void
  authenticated: (message: AuthenticatedMessage) => void
  resumed: (message: ResumedMessage) => void
  /** More was missed than the server replays: re-fetch over HTTP. */
  reset: (message: ResetMessage) => void
  error: (message: ErrorMessage) => void
  /** Anything else the server sends, such as admin broadcasts. */
  broadcast: (message: BroadcastMessage) => void
  /** Every message, after the typed event. */
  message: (message: ServerMessage | BroadcastMessage) => void
  state: (state: ConnectionState) => void
  /** The token was refreshed over HTTP before it expired; persist it if you keep sessions. */
  token: (session: SessionResponse) => void
}

export interface HeraldClientOptions {
  /** Base URL of Herald, e.g. http://127.0.0.1:3000 (the socket is at /ws on it). */
  url: string
  /** The session token to authenticate with; null connects anonymously (broadcasts only). */
  getToken?: () => string | null | Promise<string | null>
  /** Resume from this seq on the first connection; by default the client starts from "now". */
  since?: number
  /**
   * Refresh the token this long before it expires (default: a tenth of its lifetime, 5 s to 60 s; never
   * more than half of what is left).
   */
  refreshBeforeMs?: number
  minReconnectDelayMs?: number
  maxReconnectDelayMs?: number
  /** A WebSocket implementation (Node before 22); browsers and Bun have one. */
  WebSocket?: unknown
  fetch?: typeof fetch
  /** Connect at once (default true); otherwise call connect(). */
  autoConnect?: boolean
}

export interface HeraldClient {
  readonly api: HttpApi
  readonly state: ConnectionState
  /** Why the client stopped reconnecting, when state is 'closed'. */
  readonly closedReason: { code: string; message: string } | null
  /** The last notification seq this client has seen. */
  readonly lastSeq: number
  readonly userId: string | null
  on<E extends keyof HeraldClientEvents>(event: E, handler: HeraldClientEvents[E]): () => void
  connect(): void
  /** Closes the socket and stops reconnecting until connect() is called again. */
  disconnect(): void
  /** Signs in or out on the open socket (null: reconnect anonymously). */
  setToken(token: string | null): void
  send(message: { type: string; [key: string]: unknown }): void
}

// Closing for these means the same attempt would fail again: stop and say why.
const FATAL_ERRORS = new Set(['CONNECTION_LIMIT_PER_USER_EXCEEDED', 'CONNECTION_LIMIT_TOTAL_EXCEEDED'])
const KNOWN_TYPES = new Set([
  'connected',
  'authenticated',
  'notification',
  'job_status',
  'data_update',
  'read_state',
  'resumed',
  'reset',
  'pong',
  'error',
])

/**
 * A framework-free Herald client for browsers, Bun and Node. It reconnects with exponential backoff and
 * jitter (partysocket), authenticates with the `auth` message (never a token in the URL), refreshes the token
 * before it expires, resumes from the last seq after every reconnect so nothing is lost or doubled, and stops
 * reconnecting, with a reason, when retrying cannot help.
 */
export function createHeraldClient(options: HeraldClientOptions): HeraldClient {
  const base = options.url.replace(/\/+$/, '')
  const wsUrl = `${base.replace(/^http/, 'ws')}/ws`
  const minDelay = options.minReconnectDelayMs ?? 250
  const maxDelay = options.maxReconnectDelayMs ?? 10_000
  const handlers = new Map<keyof HeraldClientEvents, Set<(...args: never[]) => void>>()

  let token: string | null | undefined // undefined: ask getToken
  // A token given to setToken and sent on the open socket, not yet accepted: if that socket refuses it (it
  // belongs to another user), a fresh connection tries it before getToken is asked.
  let switchingTo: string | null = null
  let lastSeq: number | null = options.since ?? null
  let userId: string | null = null
  let state: ConnectionState = 'idle'
  let closedReason: { code: string; message: string } | null = null
  let lastError: ErrorMessage | null = null
  let authFailures = 0
  let refreshTimer: ReturnType<typeof setTimeout> | null = null
  let socket: RWS | null = null
  // Notifications that arrive between `authenticated` and `resumed`: live ones pushed before the server took
  // the resume are also in its replay, so both are held and sent on in seq order, once, when `resumed` comes.
  let held: Notification[] = []

  const emit = <E extends keyof HeraldClientEvents>(event: E, ...args: Parameters<HeraldClientEvents[E]>) => {
    for (const handler of handlers.get(event) ?? []) {
      try {
        ;(handler as unknown as (...a: typeof args) => void)(...args)
      } catch (error) {
        // A listener's bug must not break delivery to the others.
        console.error('herald: event handler failed', error)
      }
    }
  }
  const setState = (next: ConnectionState) => {
    if (state === next) return
    state = next
    emit('state', next)
  }
  const currentToken = async () => {
    if (token === undefined) token = (await options.getToken?.()) ?? null
    return token
  }
  const api = createHttpApi({ url: base, token: currentToken, fetch: options.fetch })

  const sendRaw = (message: unknown) => {
    if (socket?.readyState === 1) socket.send(JSON.stringify(message))
  }

  const clearRefresh = () => {
    if (refreshTimer) clearTimeout(refreshTimer)
    refreshTimer = null
  }

  const scheduleRefresh = (expiresAt: string) => {
    clearRefresh()
    const remaining = Date.parse(expiresAt) - Date.now()
    // Never before half the remaining lifetime: a window as long as the token (a 3 s token against the 5 s
    // floor) would refresh again the moment each refresh lands, in a loop.
    const before = Math.min(
      remaining / 2,
      options.refreshBeforeMs ?? Math.min(60_000, Math.max(5_000, remaining / 10)),
    )
    refreshTimer = setTimeout(
      () => {
        refreshTimer = null
        api.auth.refresh().then(
          (session) => {
            token = session.token
            emit('token', session)
            sendRaw({ type: 'auth', token: session.token })
          },
          () => {
            // The session is over (logged out elsewhere, or past its end): the server will close with
            // 4001, and the reconnect asks getToken for a new one.
            token = undefined
          },
        )
      },
      Math.max(0, remaining - before),
    )
  }

  const stop = (code: string, message: string) => {
    closedReason = { code, message }
    clearRefresh()
    socket?.close()
    socket = null
    setState('closed')
  }

  const onOpenFrame = async () => {
    held = []
    const current = await currentToken()
    if (current) {
      setState('authenticating')
      sendRaw({ type: 'auth', token: current })
    } else {
      // Anonymous now (no token after a refusal, say): the previous user's identity and seq do not carry over.
      if (userId !== null) {
        userId = null
        lastSeq = null
      }
      setState('connected')
    }
  }

  const onAuthenticated = async (message: AuthenticatedMessage) => {
    authFailures = 0
    switchingTo = null
    if (userId !== null && userId !== message.userId) lastSeq = null
    userId = message.userId
    scheduleRefresh(message.expiresAt)
    emit('authenticated', message)
    if (state !== 'authenticating') return // a refresh on an open socket: nothing to resume
    if (lastSeq === null) {
      // First connection: start from the latest seq; the inbox comes from HTTP, live ones from here on.
      try {
        lastSeq = (await api.notifications.unreadCount()).seq
      } catch {
        lastSeq = 0
      }
    }
    sendRaw({ type: 'resume', since: lastSeq })
  }

  const onFrame = (data: unknown) => {
    let message: ServerMessage | BroadcastMessage
    try {
      message = JSON.parse(String(data))
    } catch {
      return
    }
    if (typeof message?.type !== 'string') return
    switch (message.type) {
      case 'connected':
        void onOpenFrame()
        break
      case 'authenticated':
        void onAuthenticated(message as AuthenticatedMessage)
        break
      case 'notification': {
        const { notification } = message as { notification: Notification }
        if (state === 'authenticating') {
          held.push(notification)
          break
        }
        // Resume makes delivery exactly-once; this guards against a replay racing a live copy anyway.
        if (lastSeq !== null && notification.seq <= lastSeq) return
        lastSeq = notification.seq
        emit('notification', notification)
        break
      }
      case 'resumed': {
        // Everything held is in since+1..seq (the replay, and live copies of part of it): in order, once each.
        const since = (message as ResumedMessage).since
        const replay = held.sort((a, b) => a.seq - b.seq)
        held = []
        for (const notification of replay) {
          if (notification.seq <= since || (lastSeq !== null && notification.seq <= lastSeq)) continue
          lastSeq = notification.seq
          emit('notification', notification)
        }
        lastSeq = Math.max(lastSeq ?? 0, (message as ResumedMessage).seq)
        setState('connected')
        emit('resumed', message as ResumedMessage)
        break
      }
      case 'reset':
        // Whatever was held is at or below the reset's seq: the app re-fetches it over HTTP.
        held = []
        lastSeq = (message as ResetMessage).seq
        setState('connected')
        emit('reset', message as ResetMessage)
        break
      case 'job_status':
        emit('job_status', message as JobStatusMessage)
        break
      case 'data_update':
        emit('data_update', message as DataUpdateMessage)
        break
      case 'read_state':
        emit('read_state', message as ReadStateMessage)
        break
      case 'error':
        lastError = message as ErrorMessage
        emit('error', lastError)
        // The server could not read the replay (its database is down, say) and keeps the socket open: ask
        // again shortly rather than wait in 'authenticating' forever.
        if (state === 'authenticating' && userId !== null && lastError.code === 'INVALID_MESSAGE') {
          const current = socket
          setTimeout(
            () => {
              if (socket === current && state === 'authenticating')
                sendRaw({ type: 'resume', since: lastSeq ?? 0 })
            },
            1000 + Math.random() * 1000,
          )
        }
        break
      case 'pong':
        break
    }
    if (!KNOWN_TYPES.has(message.type)) emit('broadcast', message as BroadcastMessage)
    emit('message', message)
  }

  const onClose = (event: { code: number; reason: string }) => {
    clearRefresh()
    if (state === 'idle' || state === 'closed') return
    const error = lastError
    lastError = null
    if (event.code === 4029 || (error && FATAL_ERRORS.has(error.code))) {
      stop(error?.code ?? 'CONNECTION_LIMIT', error?.message ?? 'A connection limit was reached.')
      return
    }
    if (event.code === 4001) {
      // The token was refused or expired: ask for a fresh one once; a second refusal in a row is final.
      if (token && token === switchingTo) switchingTo = null
      else token = undefined
      if (++authFailures >= 2) {
        stop('UNAUTHORIZED', error?.message ?? 'The session is no longer valid; sign in again.')
        return
      }
    }
    setState('reconnecting')
  }

  const connect = () => {
    if (socket) return
    closedReason = null
    authFailures = 0
    setState('connecting')
    // partysocket grows the delay exponentially; the jitter is added here, in the URL provider, so many
    // clients dropped by one restart do not all come back in the same millisecond.
    let attempts = 0
    const next = new RWS(
      async () => {
        if (attempts++ > 0) await new Promise((r) => setTimeout(r, Math.random() * minDelay * 2))
        return wsUrl
      },
      undefined,
      {
        WebSocket: options.WebSocket,
        minReconnectionDelay: minDelay,
        maxReconnectionDelay: maxDelay,
        reconnectionDelayGrowFactor: 2,
        connectionTimeout: 10_000,
        maxEnqueuedMessages: 0,
      },
    )
    next.addEventListener('message', (event) => {
      if (socket === next) onFrame(event.data)
    })
    next.addEventListener('close', (event) => {
      if (socket === next) onClose(event)
    })
    next.addEventListener('error', () => {
      if (socket === next && state === 'connecting') setState('reconnecting')
    })
    socket = next
  }

  const client: HeraldClient = {
    api,
    get state() {
      return state
    },
    get closedReason() {
      return closedReason
    },
    get lastSeq() {
      return lastSeq ?? 0
    },
    get userId() {
      return userId
    },
    on(event, handler) {
      let set = handlers.get(event)
      if (!set) {
        set = new Set()
        handlers.set(event, set)
      }
      set.add(handler as (...args: never[]) => void)
      return () => set.delete(handler as (...args: never[]) => void)
    },
    connect,
    disconnect() {
      clearRefresh()
      const current = socket
      socket = null
      setState('idle')
      current?.close(1000, 'client disconnect')
    },
    setToken(next) {
      const previous = token
      token = next
      switchingTo = null
      if (next && previous && socket?.readyState === 1 && userId !== null) {
        // Same socket, fresh token (the server refuses another user's: then it closes and we reconnect).
        switchingTo = next
        sendRaw({ type: 'auth', token: next })
        return
      }
      if (!next) {
        userId = null
        lastSeq = null
      }
      if (socket) {
        setState('reconnecting')
        socket.reconnect(1000, 'token changed')
      }
    },
    send: sendRaw,
  }
  if (options.autoConnect !== false) connect()
  return client
}
