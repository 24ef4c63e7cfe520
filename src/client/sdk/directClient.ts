import { CloseCode } from '../../shared/protocol/codes'
import { isServerMessage } from '../../shared/protocol/serverMessages'
import { createChannelSubscriptions } from './channelSubscriptions'
import { createHttpApi } from './createHttpApi'
import { createEmitter } from './emitter'
import { initialSession, type SessionEffect, type SessionEvent, sessionReducer } from './session'
import { type HeraldSocket, openSocket } from './socket'
import { createTokenRefresh, createTokenStore } from './tokens'
import type { HeraldClient, HeraldClientEvents, HeraldClientOptions } from './types'

/**
 * A framework-free Herald client for browsers, Bun and Node. It reconnects with exponential backoff and
 * jitter (partysocket), authenticates with the `auth` message (never a token in the URL), refreshes the token
 * before it expires, resumes from the last seq after every reconnect so nothing is lost or doubled, and stops
 * reconnecting, with a reason, when retrying cannot help.
 *
 * The parts: the session reducer (session.ts) decides what every event means; this function runs its
 * effects on the socket (socket.ts), the token store and refresh (tokens.ts) and the emitter (emitter.ts).
 * Channel subscriptions (channels.ts, with their I/O in channelSubscriptions.ts) follow the socket's life:
 * subscribed again with `since` on every new socket, so an app sees each publication once, in order.
 */
export function createDirectClient(options: HeraldClientOptions): HeraldClient {
  const base = options.url.replace(/\/+$/, '')
  const events = createEmitter<HeraldClientEvents>()
  const tokens = createTokenStore(options.getToken)
  const api = createHttpApi({ url: base, token: () => tokens.current(), fetch: options.fetch })
  let session = initialSession(options.since ?? null)
  let socket: HeraldSocket | null = null
  let resumeTimer: ReturnType<typeof setTimeout> | null = null
  const channels = createChannelSubscriptions({ send: (message) => socket?.send(message) })

  const refresh = createTokenRefresh({
    refresh: () => api.auth.refresh(),
    refreshBeforeMs: options.refreshBeforeMs,
    onRefreshed: (fresh) => {
      tokens.refreshed(fresh.token)
      events.emit({ type: 'emit', event: 'token', args: [fresh] })
      socket?.send({ type: 'auth', token: fresh.token })
    },
    // The server will close with 4001, and the reconnect asks getToken for a new one.
    onFailed: () => tokens.forget(),
  })

  const clearResumeTimer = () => {
    if (resumeTimer) clearTimeout(resumeTimer)
    resumeTimer = null
  }

  const dispatch = (event: SessionEvent) => {
    const step = sessionReducer(session, event)
    session = step.state
    for (const effect of step.effects) run(effect)
  }

  const run = (effect: SessionEffect) => {
    switch (effect.type) {
      case 'emit':
        events.emit(effect)
        break
      case 'send':
        socket?.send(effect.message)
        break
      case 'openSocket':
        socket = openSocket({
          url: `${base.replace(/^http/, 'ws')}/ws`,
          WebSocket: options.WebSocket,
          minReconnectDelayMs: options.minReconnectDelayMs ?? 250,
          maxReconnectDelayMs: options.maxReconnectDelayMs ?? 10_000,
          onMessage: (message) => {
            dispatch({ type: 'message', message })
            if (isServerMessage(message)) channels.message(message)
          },
          onClose: (code) => {
            channels.closed()
            dispatch({ type: 'closed', code })
          },
          onError: () => dispatch({ type: 'socketError' }),
        })
        break
      case 'closeSocket': {
        clearResumeTimer()
        channels.closed()
        const current = socket
        socket = null
        current?.close(effect.code, effect.reason)
        break
      }
      case 'reconnect':
        clearResumeTimer()
        channels.closed()
        socket?.reconnect(CloseCode.normal, 'token changed')
        break
      case 'findToken':
        void tokens
          .current()
          .then((token) => dispatch({ type: 'tokenFound', socketId: effect.socketId, token }))
        break
      case 'fetchStartSeq':
        void api.notifications.unreadCount().then(
          ({ seq }) => dispatch({ type: 'startSeq', socketId: effect.socketId, seq }),
          () => dispatch({ type: 'startSeq', socketId: effect.socketId, seq: 0 }),
        )
        break
      case 'retryResumeLater':
        clearResumeTimer()
        resumeTimer = setTimeout(
          () => {
            resumeTimer = null
            dispatch({ type: 'retryResume', socketId: effect.socketId })
          },
          effect.delayMs * (1 + Math.random()),
        )
        break
      case 'scheduleRefresh':
        refresh.schedule(effect.expiresAt)
        break
      case 'cancelRefresh':
        refresh.cancel()
        break
      case 'tokenAccepted':
        tokens.accepted()
        break
      case 'tokenRefused':
        tokens.refused()
        break
      case 'channelsReady':
        channels.ready(effect.socketId)
        break
    }
  }

  const client: HeraldClient = {
    api,
    get state() {
      return session.connection
    },
    get closedReason() {
      return session.closedReason
    },
    get lastSeq() {
      return session.lastSeq ?? 0
    },
    get userId() {
      return session.userId
    },
    on: events.on,
    connect() {
      if (!socket) dispatch({ type: 'connect' })
    },
    disconnect() {
      dispatch({ type: 'disconnect' })
    },
    setToken(next) {
      const previous = tokens.set(next)
      if (next && previous && socket?.isOpen && session.userId !== null) {
        // Same socket, fresh token (the server refuses another user's: then it closes and we reconnect).
        tokens.switchingTo(next)
        socket.send({ type: 'auth', token: next })
        return
      }
      dispatch({ type: 'tokenChanged', signedOut: !next })
    },
    send(message) {
      socket?.send(message)
    },
    subscribe: (channel, subscribeOptions) => channels.subscribe(channel, subscribeOptions),
  }
  if (options.autoConnect !== false) client.connect()
  return client
}
