// The load client: one Bun process that opens every connection of a run and measures what arrives. Herald,
// `ws` and bare Bun get Bun's native WebSocket; Socket.IO gets socket.io-client over its WebSocket transport.
// Driven by the orchestrator (run.ts) over stdin/stdout; every wait here has a timeout.
import { readFileSync } from 'node:fs'
import postgres from 'postgres'
import { io, type Socket } from 'socket.io-client'
import { channelCommands, control } from './lib/channelClient'
import { emit, serveCommands } from './lib/childIo'
import { churnClient } from './lib/churn'
import { now, sleep } from './lib/clock'
import { presenceCommands } from './lib/presenceClient'
import { percentile } from './lib/stats'
import type { BenchUser } from './lib/users'

type Kind = 'herald' | 'bun' | 'ws' | 'socketio'
type Payload = { type?: string; t?: number; data?: { t?: number }; notification?: { data?: { t?: number } } }

interface Phase {
  total: number
  received: number
  latencies: Float64Array
  first: number
  last: number
  timer: Timer | null
  finish(): void
}

let phase: Phase | null = null
let native: WebSocket[] = []
let socketio: Socket[] = []

/** Every server message after sign-in ends here: the send time rides in `t` (wherever the shape puts it). */
function receive(message: Payload): void {
  const current = phase
  if (current === null) return
  const t = message.t ?? message.data?.t ?? message.notification?.data?.t
  if (typeof t !== 'number') return
  const at = now()
  if (current.received === 0) current.first = at
  if (current.received < current.latencies.length) current.latencies[current.received] = at - t
  current.received++
  current.last = at
  if (current.received >= current.total) current.finish()
}

function summarize(p: Phase) {
  const count = Math.min(p.received, p.latencies.length)
  const sorted = p.latencies.slice(0, count).sort()
  return {
    received: p.received,
    expected: p.total,
    first: p.first,
    last: p.last,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: count ? sorted[count - 1]! : Number.NaN,
  }
}

/** Counts the next `total` timestamped messages; emits {event: 'phase'} when they are in or time is up. */
function arm(total: number, timeoutMs: number, capacity = total): Promise<ReturnType<typeof summarize>> {
  return new Promise((resolve) => {
    const p: Phase = {
      total,
      received: 0,
      latencies: new Float64Array(capacity),
      first: Number.NaN,
      last: Number.NaN,
      timer: null,
      finish() {
        if (phase !== p) return
        phase = null
        if (p.timer) clearTimeout(p.timer)
        resolve(summarize(p))
      },
    }
    p.timer = setTimeout(() => p.finish(), timeoutMs)
    phase = p
    if (total === 0) p.finish()
  })
}

function openNative(url: string, token: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    let done = false
    const settle = (error?: Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (error) {
        reject(error)
        try {
          ws.close()
        } catch {}
      } else resolve()
    }
    const timer = setTimeout(() => settle(new Error('no authenticated within the timeout')), timeoutMs)
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }))
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data as string) as Payload
      if (done) {
        receive(message)
        control(ws, message as Parameters<typeof control>[1])
      } else if (message.type === 'authenticated') {
        native.push(ws)
        settle()
      } else if (message.type === 'error') settle(new Error(`server said ${event.data}`))
    }
    ws.onerror = () => settle(new Error('WebSocket error'))
    ws.onclose = (event) => settle(new Error(`closed ${event.code} ${event.reason}`))
  })
}

function openSocketIo(url: string, token: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: timeoutMs,
      auth: { token },
    })
    socket.on('m', receive)
    socket.once('connect', () => {
      socketio.push(socket)
      resolve()
    })
    socket.once('connect_error', (error) => {
      socket.close()
      reject(error)
    })
  })
}

async function connect(args: Record<string, unknown>) {
  const kind = args.kind as Kind
  const url = String(args.url)
  const n = Number(args.n)
  const concurrency = Number(args.concurrency ?? 200)
  const perConnectionTimeoutMs = Number(args.perConnectionTimeoutMs ?? 20_000)
  const users = (JSON.parse(readFileSync(String(args.usersFile), 'utf8')) as BenchUser[]).slice(0, n)
  let next = 0
  let ok = 0
  let failed = 0
  let firstError: string | null = null
  const start = now()
  const worker = async () => {
    while (next < users.length) {
      const user = users[next++]!
      try {
        if (kind === 'socketio') await openSocketIo(url, user.token, perConnectionTimeoutMs)
        else await openNative(url, user.token, perConnectionTimeoutMs)
        ok++
      } catch (error) {
        failed++
        firstError ??= String(error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker))
  return { ok, failed, firstError, start, end: now() }
}

async function closeAll() {
  const sockets = native
  native = []
  let open = sockets.length
  const allClosed = new Promise<void>((resolve) => {
    if (open === 0) resolve()
    for (const ws of sockets) {
      ws.onclose = () => {
        if (--open === 0) resolve()
      }
      ws.close()
    }
  })
  for (const socket of socketio) socket.close()
  socketio = []
  await Promise.race([allClosed, sleep(10_000)])
  Bun.gc(true)
}

/**
 * Stored path: notifications through the admin API for the connected users, round-robin. Closed loop
 * (`concurrency` requests in flight, as many as fit in `durationMs`, at most `maxCount`) or, with
 * `ratePerSec`, open loop (one request every 1/rate s, whatever the answers, `maxCount` in all). With
 * `batchSize` > 1 each request is one POST /api/admin/notifications/batch to that many users (the next ones
 * round-robin), one shared notification; `created` then counts notifications, not requests.
 */
async function stored(args: Record<string, unknown>) {
  const url = String(args.url)
  const adminKey = String(args.adminKey)
  const userIds = args.userIds as string[]
  const concurrency = Number(args.concurrency ?? 1)
  const maxCount = Number(args.maxCount)
  const durationMs = Number(args.durationMs ?? 60_000)
  const ratePerSec = args.ratePerSec === undefined ? null : Number(args.ratePerSec)
  const deliveryTimeoutMs = Number(args.deliveryTimeoutMs ?? 20_000)
  const batchSize = Number(args.batchSize ?? 1)
  const delivered = arm(Number.POSITIVE_INFINITY, durationMs + deliveryTimeoutMs, maxCount * batchSize)
  const http: number[] = []
  let issued = 0
  let created = 0
  let failed = 0
  let firstError: string | null = null
  const publish = async (i: number) => {
    const t = now()
    const content = {
      type: 'bench',
      title: 'Bench notification',
      message: `Stored notification ${i} of the benchmark`,
      data: { i, t },
    }
    try {
      const response = await fetch(`${url}/api/admin/notifications${batchSize > 1 ? '/batch' : ''}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          batchSize > 1
            ? {
                recipients: Array.from({ length: batchSize }, (_, k) => ({
                  userId: userIds[(i * batchSize + k) % userIds.length],
                })),
                notification: content,
              }
            : { userId: userIds[i % userIds.length], ...content },
        ),
      })
      await response.arrayBuffer()
      if (response.status === 201) created += batchSize
      else {
        failed++
        firstError ??= `HTTP ${response.status}`
      }
    } catch (error) {
      failed++
      firstError ??= String(error)
    }
    http.push(now() - t)
  }
  const start = now()
  const stopAt = start + durationMs
  if (ratePerSec === null) {
    const worker = async () => {
      while (issued < maxCount && now() < stopAt) await publish(issued++)
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
  } else {
    const inFlight: Promise<void>[] = []
    while (issued < maxCount && now() < stopAt) {
      const due = start + (issued * 1000) / ratePerSec
      if (due > now()) await sleep(due - now())
      inFlight.push(publish(issued++))
    }
    await Promise.all(inFlight)
  }
  const end = now()
  // Now the number to wait for is known.
  if (phase) {
    phase.total = created
    if (phase.received >= created) phase.finish()
  }
  const deliveries = await delivered
  const sorted = http.sort((a, b) => a - b)
  return {
    created,
    failed,
    firstError,
    start,
    end,
    createdPerSec: created / ((end - start) / 1000),
    httpP50: percentile(sorted, 50),
    httpP99: percentile(sorted, 99),
    delivered: deliveries.received,
    deliveryP50: deliveries.p50,
    deliveryP99: deliveries.p99,
    deliveryMax: deliveries.max,
  }
}

/** How long `resume` takes: from sending it to receiving `resumed`, on a fresh authenticated connection. */
function replay(args: Record<string, unknown>) {
  const url = String(args.url)
  const token = String(args.token)
  const since = Number(args.since ?? 0)
  return new Promise<{ ms: number; replayed: number; firstMs: number; resumed: unknown }>(
    (resolve, reject) => {
      const ws = new WebSocket(url)
      let sentAt = 0
      let firstAt = 0
      let replayed = 0
      const timer = setTimeout(() => {
        ws.close()
        reject(new Error('resume did not finish within 30 s'))
      }, 30_000)
      ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }))
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data as string) as { type: string }
        if (message.type === 'authenticated') {
          sentAt = now()
          ws.send(JSON.stringify({ type: 'resume', since }))
        } else if (message.type === 'notification') {
          if (replayed++ === 0) firstAt = now()
        } else if (message.type === 'resumed' || message.type === 'reset' || message.type === 'error') {
          const at = now()
          clearTimeout(timer)
          ws.close()
          resolve({
            ms: at - sentAt,
            firstMs: firstAt ? firstAt - sentAt : Number.NaN,
            replayed,
            resumed: message,
          })
        }
      }
      ws.onerror = () => {
        clearTimeout(timer)
        reject(new Error('replay WebSocket error'))
      }
    },
  )
}

/**
 * The ceilings for the stored path, straight from postgres-js with Herald's pool size and the same load:
 * `insert`, the same row as one single-statement insert (its own commit); `transaction`, the statements
 * Herald's notification store ran before the one-statement path (bump the user's seq, insert the row,
 * NOTIFY the bus, commit) without Herald around them, for the users round-robin; `notify`, the `insert` with
 * a pg_notify in the same statement: a committing transaction that notified holds PostgreSQL's global notify
 * lock through its commit, which is what bounds any store that announces in its commit.
 */
async function bareInsert(args: Record<string, unknown>) {
  const mode = args.mode === 'transaction' || args.mode === 'notify' ? args.mode : 'insert'
  const sql = postgres(String(args.databaseUrl), { max: Number(args.poolSize), onnotice: () => {} })
  const userIds = (args.userIds as string[]).map(Number)
  const concurrency = Number(args.concurrency)
  const maxCount = Number(args.maxCount)
  const durationMs = Number(args.durationMs)
  // Each call inserts seqs of its own (the unique (user, seq) index holds across calls on one database).
  const seqBase = Number(args.seqBase ?? 0)
  let issued = 0
  let done = 0
  const latencies: number[] = []
  const message = (i: number) => `Stored notification ${i} of the benchmark`
  const insertOne = async (i: number, t: number) => {
    await sql`insert into notifications (user_id, seq, type, title, message, data)
      values (${userIds[0]!}, ${seqBase + 1_000_000_000 + i}, 'bench', 'Bench notification', ${message(i)},
              ${sql.json({ i, t })})`
  }
  const transactOne = async (i: number, t: number) => {
    const userId = userIds[i % userIds.length]!
    await sql.begin(async (tx) => {
      const [bumped] = await tx<{ last_seq: number }[]>`
        update users set last_seq = last_seq + 1 where id = ${userId} returning last_seq`
      const [row] = await tx`insert into notifications (user_id, seq, type, title, message, data)
        values (${userId}, ${bumped!.last_seq}, 'bench', 'Bench notification', ${message(i)},
                ${sql.json({ i, t })})
        returning *`
      const event = { kind: 'item', stream: 'inbox', key: String(userId), item: row }
      await tx`select pg_notify('herald_bus', ${JSON.stringify(event)})`
    })
  }
  const notifyOne = async (i: number, t: number) => {
    // Its own channel: nobody listens, as with the bare insert; the lock is taken all the same.
    await sql`with ins as (insert into notifications (user_id, seq, type, title, message, data)
      values (${userIds[0]!}, ${seqBase + 2_000_000_000 + i}, 'bench', 'Bench notification', ${message(i)},
              ${sql.json({ i, t })}) returning id)
      select pg_notify('herald_bench', id::text) from ins`
  }
  const one = mode === 'insert' ? insertOne : mode === 'notify' ? notifyOne : transactOne
  try {
    await sql`select 1`
    const start = now()
    const stopAt = start + durationMs
    const worker = async () => {
      while (issued < maxCount && now() < stopAt) {
        const i = issued++
        const t = now()
        await one(i, t)
        done++
        latencies.push(now() - t)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    const end = now()
    const sorted = latencies.sort((a, b) => a - b)
    return {
      inserted: done,
      insertsPerSec: done / ((end - start) / 1000),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
    }
  } finally {
    await sql.end({ timeout: 5 })
  }
}

serveCommands({
  connect,
  expect: (args) => {
    void arm(Number(args.total), Number(args.timeoutMs)).then((summary) =>
      emit({ event: 'phase', ...summary }),
    )
    return { armed: true }
  },
  close: closeAll,
  stored,
  replay,
  bareInsert,
  churn: churnClient,
  ...channelCommands(() => ({ native, socketio })),
  ...presenceCommands(),
})
emit({ event: 'ready', pid: process.pid })
