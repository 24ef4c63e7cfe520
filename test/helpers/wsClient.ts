import type { ServerMessage } from '../../src/shared/protocol'

type Message = ServerMessage | { type: string; [key: string]: unknown }

export interface TestSocket {
  ws: WebSocket
  /** Every message received so far, in order. */
  messages: Message[]
  opened: Promise<void>
  closed: Promise<{ code: number; reason: string }>
  send(value: unknown): void
  sendRaw(data: string | Uint8Array<ArrayBuffer>): void
  /** The next message (after those already taken by next) matching the predicate or type. */
  next<T extends Message = Message>(
    match?: string | ((m: Message) => boolean),
    timeoutMs?: number,
  ): Promise<T>
  /** Waits until `count` messages of a type have arrived in total; returns them. */
  collect<T extends Message = Message>(type: string, count: number, timeoutMs?: number): Promise<T[]>
  close(): void
}

/** A real WebSocket client that records what the server says, for assertions. */
export function connectSocket(url: string): TestSocket {
  const ws = new WebSocket(url)
  const messages: Message[] = []
  let cursor = 0
  const waiters = new Set<() => void>()
  const wake = () => {
    for (const waiter of [...waiters]) waiter()
  }
  ws.onmessage = (event) => {
    messages.push(JSON.parse(String(event.data)))
    wake()
  }
  const opened = new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`))
  })
  opened.catch(() => {})
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.onclose = (event) => {
      resolve({ code: event.code, reason: event.reason })
      wake()
    }
  })
  const waitFor = <T>(check: () => T | undefined, what: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const value = check()
        if (value === undefined) return false
        clearTimeout(timer)
        waiters.delete(tryIt)
        resolve(value)
        return true
      }
      const tryIt = () => void attempt()
      const timer = setTimeout(() => {
        waiters.delete(tryIt)
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(messages)}`),
        )
      }, timeoutMs)
      if (!attempt()) waiters.add(tryIt)
    })
  return {
    ws,
    messages,
    opened,
    closed,
    send: (value) => ws.send(JSON.stringify(value)),
    sendRaw: (data) => ws.send(data),
    next<T extends Message>(match?: string | ((m: Message) => boolean), timeoutMs = 5000) {
      const matches = typeof match === 'string' ? (m: Message) => m.type === match : (match ?? (() => true))
      return waitFor<T>(
        () => {
          for (let i = cursor; i < messages.length; i++) {
            if (matches(messages[i]!)) {
              cursor = i + 1
              return messages[i] as T
            }
          }
          return undefined
        },
        typeof match === 'string' ? `a "${match}" message` : 'a matching message',
        timeoutMs,
      )
    },
    collect<T extends Message>(type: string, count: number, timeoutMs = 10_000) {
      return waitFor<T[]>(
        () => {
          const found = messages.filter((m) => m.type === type)
          return found.length >= count ? (found as T[]) : undefined
        },
        `${count} "${type}" messages`,
        timeoutMs,
      )
    },
    close: () => ws.close(),
  }
}

/** Connects and authenticates with the auth message; resolves once `authenticated` arrives. */
export async function connectAuthenticated(wsUrl: string, token: string): Promise<TestSocket> {
  const socket = connectSocket(wsUrl)
  await socket.opened
  await socket.next('connected')
  socket.send({ type: 'auth', token })
  await socket.next('authenticated')
  return socket
}
