// A load process of the restart storm (bench/storm.ts): many real clients in one Bun process — Herald's SDK
// (createHeraldClient, as an app uses it) or socket.io-client with connection state recovery — each on three
// channels (rooms) and its user's stream. It records when each client is live again after the mark the
// orchestrator sets just before the restart, and every seq that arrived, for the orchestrator's check.
// Driven over stdin/stdout (lib/childIo.ts); every wait has a timeout.
import { io, type Socket } from 'socket.io-client'
import { createHeraldClient, type HeraldClient } from '../src/client/sdk/createHeraldClient'
import { emit, serveCommands } from './lib/childIo'
import { now, sleep } from './lib/clock'
import { checkStream, type Delivery, type Expected, emptyDelivery, stormChannels } from './lib/stormStreams'
import type { BenchUser } from './lib/users'

interface StormClient {
  userId: string
  channels: string[]
  /** Seqs received per channel, in arrival order. */
  received: number[][]
  notifications: number[]
  live: boolean
  /** When the client went down after the mark (0: not since). */
  downAt: number
  /** The last time its socket opened (Herald: `authenticating`); connected, authenticated, resumed; each channel's last `subscribed`. */
  openedAt: number
  connectedAt: number
  authenticatedAt: number
  resumedAt: number
  subscribedAt: number[]
  /** Socket.IO: the last connection restored the session (`socket.recovered`). */
  recovered: boolean
  close(): void
}

let clients: StormClient[] = []
let markedAt = 0
/** Why clients went down since the mark (Socket.IO's disconnect reasons, Herald's close codes). */
const traces: string[] = []
const downReasons = new Map<string, number>()
const countReason = (reason: string) => downReasons.set(reason, (downReasons.get(reason) ?? 0) + 1)

/** With STORM_TRACE, the orchestrator logs what one client in 250 went through after the mark. */
function traceClient(index: number, event: string): void {
  if (index % 250 === 249 && markedAt > 0 && traces.length < 1000)
    traces.push(`${index} ${Math.round(now() - markedAt)} ${event}`)
}

/** A client's record before it connects: nothing received, no step reached. */
function newClient(user: BenchUser, channels: string[], close: () => void): StormClient {
  return {
    userId: user.userId,
    channels,
    received: channels.map(() => []),
    notifications: [],
    live: false,
    downAt: 0,
    openedAt: 0,
    connectedAt: 0,
    authenticatedAt: 0,
    resumedAt: 0,
    subscribedAt: channels.map(() => 0),
    recovered: false,
    close,
  }
}

function heraldClient(url: string, user: BenchUser, index: number): StormClient {
  const channels = stormChannels(index)
  const client = newClient(user, channels, () => sdk.disconnect())
  const sdk: HeraldClient = createHeraldClient({
    url,
    getToken: () => user.token,
    // The seeded users have no notification yet: from 0, every one stored after is expected.
    since: 0,
    shareAcrossTabs: false,
  })
  sdk.on('state', (state) => {
    traceClient(index, state)
    if (state === 'authenticating') client.openedAt = now()
    const connected = state === 'connected'
    if (connected) client.connectedAt = now()
    else if (client.live && markedAt > 0 && client.downAt === 0) client.downAt = now()
    client.live = connected
  })
  sdk.on('authenticated', () => {
    client.authenticatedAt = now()
  })
  sdk.on('resumed', () => {
    client.resumedAt = now()
  })
  sdk.on('notification', (notification) => {
    client.notifications.push(notification.seq)
  })
  channels.forEach((channel, k) => {
    sdk.subscribe(channel, {
      onPublication: (publication) => client.received[k]!.push(publication.seq),
      onSubscribed: () => {
        traceClient(index, `subscribed ${channel}`)
        client.subscribedAt[k] = now()
      },
    })
  })
  return client
}

function socketIoClient(url: string, user: BenchUser, index: number): StormClient {
  const channels = stormChannels(index)
  const socket: Socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    // The rooms ride in the handshake: the server joins them on a connection it could not restore.
    auth: { token: user.token, rooms: channels },
  })
  const client = newClient(user, channels, () => socket.close())
  const trace = (event: string) => traceClient(index, event)
  socket.io.on('reconnect_attempt', (n) => trace(`attempt ${n}`))
  socket.io.on('error', (e) => trace(`error ${e}`))
  socket.on('connect_error', (e) => trace(`connect_error ${e}`))
  socket.on('connect', () => {
    trace(`connect recovered=${socket.recovered}`)
    const at = now()
    // The auth middleware ran and the rooms are joined before the server answers the handshake.
    client.openedAt = at
    client.connectedAt = at
    client.authenticatedAt = at
    client.resumedAt = at
    client.subscribedAt = channels.map(() => at)
    client.recovered = socket.recovered
    client.live = true
  })
  socket.on('disconnect', (reason) => {
    trace(`disconnect ${reason}`)
    if (markedAt > 0) countReason(reason)
    if (client.live && markedAt > 0 && client.downAt === 0) client.downAt = now()
    client.live = false
  })
  socket.on('p', (message: { room: string; n: number }) => {
    const k = channels.indexOf(message.room)
    if (k >= 0) client.received[k]!.push(message.n)
  })
  socket.on('n', (message: { n: number }) => client.notifications.push(message.n))
  return client
}

/** Back since the mark: down after it, then connected, authenticated, resumed and every channel subscribed. */
function backAt(client: StormClient): number | null {
  if (!client.live || client.downAt === 0) return null
  const times = [client.connectedAt, client.authenticatedAt, client.resumedAt, ...client.subscribedAt]
  return times.every((t) => t >= client.downAt) ? Math.max(...times) : null
}

/** Live now and, for Herald, every channel subscribed on this socket. */
function ready(client: StormClient): boolean {
  return client.live && client.subscribedAt.every((t) => t > 0 && t >= client.downAt)
}

async function start(args: Record<string, unknown>) {
  const kind = String(args.kind)
  const url = String(args.url)
  const users = args.users as BenchUser[]
  const firstIndex = Number(args.firstIndex)
  const timeoutMs = Number(args.timeoutMs ?? 180_000)
  // Opened in slices, so the first handshakes are not all queued behind the last.
  const sliceSize = Number(args.sliceSize ?? 250)
  const started = now()
  for (let i = 0; i < users.length && now() - started < timeoutMs; i += sliceSize) {
    for (let k = i; k < Math.min(users.length, i + sliceSize); k++)
      clients.push(
        kind === 'herald'
          ? heraldClient(url, users[k]!, firstIndex + k)
          : socketIoClient(url, users[k]!, firstIndex + k),
      )
    const deadline = now() + 30_000
    while (clients.filter(ready).length < clients.length && now() < deadline) await sleep(20)
  }
  while (clients.filter(ready).length < clients.length && now() - started < timeoutMs) await sleep(50)
  return { clients: clients.length, live: clients.filter(ready).length, ms: now() - started }
}

function status(args: Record<string, unknown>) {
  const back = clients.map(backAt)
  const answer: Record<string, unknown> = {
    clients: clients.length,
    live: clients.filter((c) => c.live).length,
    back: back.filter((t) => t !== null).length,
    down: clients.filter((c) => c.downAt > 0).length,
    recovered: clients.filter((c) => c.downAt > 0 && c.live && c.recovered).length,
    reasons: Object.fromEntries(downReasons),
    traces: traces.slice(0, 200),
  }
  if (args.times) {
    answer.backAt = back.filter((t): t is number => t !== null)
    // Where the time went, for the clients back: socket open, authenticated, every channel subscribed, resumed.
    const isBack = clients.filter((_, i) => back[i] !== null)
    answer.steps = {
      opened: isBack.map((c) => c.openedAt),
      authenticated: isBack.map((c) => c.authenticatedAt),
      subscribed: isBack.map((c) => Math.max(...c.subscribedAt)),
      resumed: isBack.map((c) => c.resumedAt),
    }
  }
  return answer
}

function verify(args: Record<string, unknown>) {
  const expected = args.expected as Expected
  const delivery: Delivery = emptyDelivery()
  for (const client of clients) {
    let lost = false
    client.channels.forEach((channel, k) => {
      lost =
        checkStream(
          delivery,
          `user ${client.userId} ${channel}`,
          expected.channels[channel] ?? [],
          client.received[k]!,
        ) || lost
    })
    lost =
      checkStream(
        delivery,
        `user ${client.userId} notifications`,
        expected.users[client.userId] ?? [],
        client.notifications,
      ) || lost
    if (lost) delivery.clientsWithLoss++
  }
  return delivery
}

serveCommands({
  start,
  mark: () => {
    markedAt = now()
    downReasons.clear()
    for (const client of clients) client.downAt = 0
    return { markedAt }
  },
  status,
  verify,
  close: () => {
    for (const client of clients) client.close()
    clients = []
    markedAt = 0
  },
})
emit({ event: 'ready', pid: process.pid })
