// The load client's presence commands (bench/client.ts, the presence phase of bench/lib/presencePhase.ts):
// members, each a distinct user on a connection of its own, subscribe to one members channel and leave it,
// one after another or all at once, and every `join`/`leave` is counted where it arrives. A member's send time
// is kept per user, so the latency is from the member's `subscribe` (or `unsubscribe`) to the arrival of its
// `join` (or `leave`) at each subscriber. Every wait has a timeout. Bare Bun answers the same frames.
import { io, type Socket } from 'socket.io-client'
import { createChannelTokenService } from '../../src/server/channels/channelTokens'
import { now } from './clock'
import { percentile } from './stats'

type Kind = 'join' | 'leave'
type Frame = { type?: string; channel?: string; userId?: string; member?: { userId?: string } }

interface Member {
  userId: string
  /** Herald and bare Bun: a native WebSocket; Socket.IO: its client socket. */
  ws: WebSocket | Socket
  /** Its subscription token (Herald's private channels); '' on bare Bun. */
  token: string
  subscribed: boolean
}

/** One member's join or leave in flight: when it was sent, how many subscribers should see it. */
interface Pending {
  sentAt: number
  expected: number
  received: number
  done: (() => void) | null
}

/** What a run of events measured: the events sent, the deliveries that arrived, the latency over them. */
export interface PresenceRun {
  events: number
  expected: number
  received: number
  /** Events whose deliveries did not all arrive within the per-event timeout (sequential runs). */
  incomplete: number
  /** Why the run stopped early: a refusal from the server, or too many incomplete events in a row. */
  stopped: string | null
  /** From the first send to the last arrival (of a join, a leave, or the answer to the last command). */
  ms: number
  p50: number
  p99: number
  max: number
}

let members: Member[] = []
let channel = ''
let pending = new Map<string, Pending>()
let latencies: number[] = []
/** The last join, leave or answer on the channel: a run lasts from its first send to this. */
let lastActivity = 0
/** `subscribed` and `unsubscribed` answers on the channel: the server has handled that many commands. */
let acks = 0
/** The first refusal the server sent on the channel (a bad token, a limit): the run cannot be right. */
let refusal: string | null = null

function onFrame(frame: Frame) {
  if ((frame.type === 'subscribed' || frame.type === 'unsubscribed') && frame.channel === channel) {
    acks++
    lastActivity = now()
  }
  if (frame.type === 'error' && frame.channel === channel) refusal ??= JSON.stringify(frame)
  if ((frame.type !== 'join' && frame.type !== 'leave') || frame.channel !== channel) return
  const at = now()
  lastActivity = at
  const event = pending.get(`${frame.type}:${frame.member?.userId}`)
  if (!event) return
  latencies.push(at - event.sentAt)
  if (++event.received >= event.expected) event.done?.()
}

function open(url: string, userId: string, authToken: string, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const timer = setTimeout(() => {
      reject(new Error(`${userId}: no authenticated within ${timeoutMs} ms`))
      ws.close()
    }, timeoutMs)
    let signedIn = false
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: authToken }))
    ws.onmessage = (message) => {
      const frame = JSON.parse(message.data as string) as Frame
      if (signedIn) return onFrame(frame)
      if (frame.type === 'authenticated') {
        signedIn = true
        clearTimeout(timer)
        resolve(ws)
      } else if (frame.type === 'error') {
        clearTimeout(timer)
        reject(new Error(`${userId}: server said ${message.data}`))
      }
    }
    ws.onerror = () => {
      clearTimeout(timer)
      reject(new Error(`${userId}: WebSocket error`))
    }
  })
}

/** Socket.IO: the token in the handshake, frames as `m` events, subscribe and unsubscribe acknowledged. */
function openSocketIo(url: string, userId: string, authToken: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: timeoutMs,
      auth: { token: authToken },
    })
    socket.on('m', onFrame)
    socket.once('connect', () => resolve(socket))
    socket.once('connect_error', (error) => {
      socket.close()
      reject(new Error(`${userId}: ${error}`))
    })
  })
}

const send = (member: Member, kind: Kind) => {
  member.subscribed = kind === 'join'
  if (!(member.ws instanceof WebSocket)) {
    member.ws.emit(kind === 'join' ? 'subscribe' : 'unsubscribe', channel, () =>
      onFrame({ type: kind === 'join' ? 'subscribed' : 'unsubscribed', channel }),
    )
    return
  }
  member.ws.send(
    JSON.stringify(
      kind === 'join'
        ? { type: 'subscribe', channel, token: member.token }
        : { type: 'unsubscribe', channel },
    ),
  )
}

function summary(
  events: number,
  expected: number,
  incomplete: number,
  start: number,
  stopped: string | null = refusal,
): PresenceRun {
  const sorted = Float64Array.from(latencies).sort()
  const run = {
    events,
    expected,
    received: sorted.length,
    incomplete,
    stopped,
    ms: lastActivity - start,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
  }
  pending = new Map()
  latencies = []
  return run
}

export function presenceCommands() {
  return {
    /**
     * Opens one connection per user of `usersFile` (its first `n`), 100 at a time (Socket.IO's client for
     * `kind` socketio, else a native WebSocket), and signs each a subscription token for `channel` with
     * `channelTokenSecret` (Herald only).
     */
    async presenceConnect(args: Record<string, unknown>) {
      const users = (await Bun.file(String(args.usersFile)).json()) as { userId: string; token: string }[]
      const n = Number(args.n)
      const timeoutMs = Number(args.timeoutMs ?? 20_000)
      channel = String(args.channel)
      const secret = args.channelTokenSecret ? String(args.channelTokenSecret) : null
      const tokens = secret ? createChannelTokenService(secret) : null
      const expiresAt = Date.now() + 3 * 3600_000
      const chosen = users.slice(0, n)
      const opened: Member[] = new Array(chosen.length)
      let next = 0
      const worker = async () => {
        while (next < chosen.length) {
          const i = next++
          const user = chosen[i]!
          const [ws, token] = await Promise.all([
            args.kind === 'socketio'
              ? openSocketIo(String(args.url), user.userId, user.token, timeoutMs)
              : open(String(args.url), user.userId, user.token, timeoutMs),
            tokens ? tokens.sign({ userId: user.userId, channel, expiresAt }) : '',
          ])
          opened[i] = { userId: user.userId, ws, token, subscribed: false }
        }
      }
      await Promise.all(Array.from({ length: Math.min(100, chosen.length) }, worker))
      members = opened
      return { connected: members.length }
    },

    /**
     * Members [from, to) join (or leave), one after another: each sends its subscribe (unsubscribe) when every
     * subscriber has received the one before, or after `eventTimeoutMs`. A join reaches every member subscribed
     * then, the joiner included; a leave every member still subscribed. A refusal from the server, or
     * `maxIncomplete` incomplete events in a row, ends the run early (so a broken run does not wait for ever).
     */
    async presenceSequential(args: Record<string, unknown>) {
      const kind = args.kind as Kind
      const from = Number(args.from)
      const to = Number(args.to)
      const eventTimeoutMs = Number(args.eventTimeoutMs ?? 5_000)
      const maxIncomplete = Number(args.maxIncomplete ?? 5)
      let inARow = 0
      let stopped: string | null = null
      let subscribed = members.filter((m) => m.subscribed).length
      let expectedAll = 0
      let incomplete = 0
      const start = now()
      lastActivity = start
      let i = from
      for (; i < to && stopped === null; i++) {
        const member = members[i]!
        subscribed += kind === 'join' ? 1 : -1
        const event: Pending = { sentAt: now(), expected: subscribed, received: 0, done: null }
        expectedAll += subscribed
        pending.set(`${kind}:${member.userId}`, event)
        const arrived = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), eventTimeoutMs)
          event.done = () => {
            clearTimeout(timer)
            resolve(true)
          }
        })
        send(member, kind)
        if (event.expected === 0) event.done!()
        if (await arrived) inARow = 0
        else {
          incomplete++
          if (++inARow >= maxIncomplete) stopped = `${inARow} events in a row not delivered to every member`
        }
        event.done = null
        stopped = refusal ?? stopped
      }
      return summary(i - from, expectedAll, incomplete, start, stopped)
    },

    /**
     * Members [from, to) join (or leave) at once: every subscribe (unsubscribe) is sent in one go, then the
     * deliveries are counted until none arrived for `quietMs` (at most `timeoutMs`). How many subscribers see
     * each event depends on the order the server handles them in, so only what arrived is counted.
     */
    async presenceBurst(args: Record<string, unknown>) {
      const kind = args.kind as Kind
      const from = Number(args.from)
      const to = Number(args.to)
      const quietMs = Number(args.quietMs ?? 300)
      const timeoutMs = Number(args.timeoutMs ?? 30_000)
      const start = now()
      lastActivity = start
      const acked = acks + (to - from)
      for (let i = from; i < to; i++) {
        const member = members[i]!
        pending.set(`${kind}:${member.userId}`, {
          sentAt: now(),
          expected: Number.POSITIVE_INFINITY,
          received: 0,
          done: null,
        })
        send(member, kind)
      }
      const deadline = start + timeoutMs
      // Every command answered first (the server has handled them all), then quiet: the last transitions out.
      while (now() < deadline && acks < acked) await Bun.sleep(10)
      const answeredAt = now()
      while (now() < deadline && now() - Math.max(lastActivity, answeredAt) < quietMs)
        await Bun.sleep(Math.min(50, quietMs / 4))
      return { ...summary(to - from, Number.NaN, 0, start), answered: acks >= acked }
    },

    /** Closes every member's connection. */
    async presenceClose() {
      for (const member of members) member.ws.close()
      members = []
      pending = new Map()
      latencies = []
      refusal = null
      return { closed: true }
    },
  }
}
