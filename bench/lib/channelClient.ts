// The load client's channel commands (bench/client.ts): every open connection subscribes to one channel (Herald's
// `subscribe`, a topic on bare Bun, a room on Socket.IO), and Herald's re-subscribe with `since` that replays
// stored publications. Every wait has a timeout.
import type { Socket } from 'socket.io-client'
import { now } from './clock'
import { percentile } from './stats'

type Control = { type?: string; channel?: string; replayed?: number; code?: string }

/** What a native connection is waiting for on its control messages (subscribed, errors, replayed ones). */
const waiters = new Map<WebSocket, (message: Control) => void>()

/** Every message a native connection receives after it authenticated, besides the timestamped ones. */
export function control(ws: WebSocket, message: Control) {
  waiters.get(ws)?.(message)
}

function subscribeNative(ws: WebSocket, channel: string, timeoutMs: number, since?: number) {
  return new Promise<{ replayed: number; counted: number }>((resolve, reject) => {
    let counted = 0
    const timer = setTimeout(() => {
      waiters.delete(ws)
      reject(new Error(`no subscribed on ${channel} within ${timeoutMs} ms`))
    }, timeoutMs)
    waiters.set(ws, (message) => {
      if (message.channel !== channel) return
      if (message.type === 'publication') counted++
      else if (
        message.type === 'subscribed' ||
        message.type === 'channel_reset' ||
        message.type === 'error'
      ) {
        clearTimeout(timer)
        waiters.delete(ws)
        if (message.type === 'error') reject(new Error(`server said ${JSON.stringify(message)}`))
        else resolve({ replayed: message.replayed ?? 0, counted })
      }
    })
    ws.send(JSON.stringify({ type: 'subscribe', channel, since }))
  })
}

function subscribeSocketIo(socket: Socket, channel: string, timeoutMs: number) {
  return new Promise<void>((resolve, reject) => {
    socket.timeout(timeoutMs).emit('subscribe', channel, (error: unknown) => {
      if (error) reject(error instanceof Error ? error : new Error(String(error)))
      else resolve()
    })
  })
}

export function channelCommands(sockets: () => { native: WebSocket[]; socketio: Socket[] }) {
  return {
    /** Every open connection subscribes to `channel`, `concurrency` at a time: subscribes/s. */
    async subscribe(args: Record<string, unknown>) {
      const channel = String(args.channel)
      const concurrency = Number(args.concurrency ?? 200)
      const timeoutMs = Number(args.timeoutMs ?? 20_000)
      const { native, socketio } = sockets()
      const tasks: (() => Promise<unknown>)[] =
        socketio.length > 0
          ? socketio.map((socket) => () => subscribeSocketIo(socket, channel, timeoutMs))
          : native.map((ws) => () => subscribeNative(ws, channel, timeoutMs))
      let next = 0
      let ok = 0
      let failed = 0
      let firstError: string | null = null
      const start = now()
      const worker = async () => {
        while (next < tasks.length) {
          const task = tasks[next++]!
          try {
            await task()
            ok++
          } catch (error) {
            failed++
            firstError ??= String(error)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker))
      const end = now()
      return { ok, failed, firstError, start, end, perSec: ok / ((end - start) / 1000) }
    },
    /**
     * Herald: the first connection subscribes to `channel` again with `since`, `reps` times, each time until
     * `subscribed`: the whole replay, counted, then the switch to live.
     */
    async resubscribe(args: Record<string, unknown>) {
      const channel = String(args.channel)
      const since = Number(args.since ?? 0)
      const reps = Number(args.reps ?? 5)
      const ws = sockets().native[0]
      if (!ws) throw new Error('no open connection to re-subscribe with')
      const runs: { ms: number; replayed: number; counted: number }[] = []
      for (let i = 0; i < reps; i++) {
        const start = now()
        const answer = await subscribeNative(ws, channel, 30_000, since)
        runs.push({ ms: now() - start, ...answer })
      }
      const sorted = runs.map((r) => r.ms).sort((a, b) => a - b)
      return { runs, p50: percentile(sorted, 50), max: sorted[sorted.length - 1] ?? Number.NaN }
    },
  }
}
