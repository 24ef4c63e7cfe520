import RWS from 'partysocket/ws'
import type { BroadcastMessage, ServerMessage } from '../../shared/protocol'
import { isMessage } from '../../shared/protocol/serverMessages'

// The socket: one partysocket that reconnects by itself with exponential backoff and jitter, and hands on
// parsed frames. Once closed it reports nothing more.

export interface SocketOptions {
  /** The socket's URL (ws: or wss:). */
  url: string
  /** A WebSocket implementation (Node before 22); browsers and Bun have one. */
  WebSocket?: unknown
  minReconnectDelayMs: number
  maxReconnectDelayMs: number
  onMessage: (message: ServerMessage | BroadcastMessage) => void
  onClose: (code: number) => void
  /** The socket could not be opened (it retries by itself). */
  onError: () => void
}

export interface HeraldSocket {
  readonly isOpen: boolean
  /** Sends on the open socket; dropped while it is not open. */
  send(message: { type: string; [key: string]: unknown }): void
  /** Closes for good: no reconnect, no more events. */
  close(code?: number, reason?: string): void
  /** Closes and opens a fresh connection at once. */
  reconnect(code: number, reason: string): void
}

/** A frame as a message: any JSON object with a string `type`; null for anything else. */
export function parseFrame(data: unknown): ServerMessage | BroadcastMessage | null {
  try {
    const value: unknown = JSON.parse(String(data))
    return isMessage(value) ? value : null
  } catch {
    return null
  }
}

export function openSocket(options: SocketOptions): HeraldSocket {
  const minDelay = options.minReconnectDelayMs
  // partysocket grows the delay exponentially; the jitter is added here, in the URL provider, so many
  // clients dropped by one restart do not all come back in the same millisecond.
  let attempts = 0
  const rws = new RWS(
    async () => {
      if (attempts++ > 0) await new Promise((r) => setTimeout(r, Math.random() * minDelay * 2))
      return options.url
    },
    undefined,
    {
      WebSocket: options.WebSocket,
      minReconnectionDelay: minDelay,
      maxReconnectionDelay: options.maxReconnectDelayMs,
      reconnectionDelayGrowFactor: 2,
      connectionTimeout: 10_000,
      maxEnqueuedMessages: 0,
    },
  )
  let closed = false
  rws.addEventListener('message', (event) => {
    if (closed) return
    const message = parseFrame(event.data)
    if (message) options.onMessage(message)
  })
  rws.addEventListener('close', (event) => {
    if (!closed) options.onClose(event.code)
  })
  rws.addEventListener('error', () => {
    if (!closed) options.onError()
  })
  const isOpen = () => !closed && rws.readyState === RWS.OPEN
  return {
    get isOpen() {
      return isOpen()
    },
    send(message) {
      if (isOpen()) rws.send(JSON.stringify(message))
    },
    close(code, reason) {
      closed = true
      rws.close(code, reason)
    },
    reconnect(code, reason) {
      rws.reconnect(code, reason)
    },
  }
}
