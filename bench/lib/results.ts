import type { ChurnResult } from './churn'
import type { StormResult } from './stormResult'

/** The JSON written to bench/results/<timestamp>.json. Times are milliseconds, rates per second. */
export type Kind = 'herald' | 'bun' | 'ws' | 'socketio'

export interface DeliveryResult {
  /** Messages the server sent (broadcasts, or per-user sends). */
  sent: number
  /** Deliveries the client should receive (sent × receivers). */
  expected: number
  received: number
  /** Deliveries per second, from the first send to the last receipt. */
  ratePerSec: number
  /** How long the server's send loop took. */
  sendMs: number
  /** Latency from the server's send call to the client's receipt, over every delivery. */
  p50: number
  p99: number
  max: number
  cpu: Cpu
}

/**
 * CPU over a phase in percent of one core (100 = one full core, 200 = this whole 2-core machine): the server
 * process, the load client, interrupt handling (`kernel`, loopback TCP in softirqs; it partly overlaps the
 * processes' own time) and a lower bound for every other process (`others`: PostgreSQL, anything else that
 * ran); `machine` is the percent of all cores that were busy. See lib/proc.ts.
 */
export interface Cpu {
  server: number
  client: number
  kernel: number
  others: number
  machine: number
}

export interface HubCell {
  server: Kind
  n: number
  rep: number
  connected: number
  failed: number
  firstError: string | null
  connectsPerSec: number
  connectCpu: Cpu
  rssBaselineKiB: number
  rssConnectedKiB: number
  /** Server RSS growth per idle authenticated connection, in bytes. */
  bytesPerConnection: number
  broadcastPaced: DeliveryResult
  broadcastFlood: DeliveryResult
  perUserPaced: DeliveryResult
  perUserFlood: DeliveryResult
  /** Every connection subscribes to one channel (Herald's subscribe, a Bun topic, a Socket.IO room). */
  subscribe?: { ok: number; failed: number; firstError: string | null; perSec: number }
  /** Publications on that channel, each to every subscriber (Herald stores each first). */
  channelPaced?: DeliveryResult
  channelFlood?: DeliveryResult
  /** Herald: a connection subscribes again with `since` 1,000 publications back, until `subscribed`. */
  resubscribe?: { p50: number; max: number; replayed: number; runs: number }
  /** Why the channel phases stopped (the hub phases before them stand). */
  channelError?: string
  error?: string
}

/** One closed-loop load of the stored path: what it created and delivered, how fast, and the CPU it took. */
export interface StoredLoad {
  created: number
  failed: number
  createdPerSec: number
  httpP50: number
  httpP99: number
  delivered: number
  /** From the start of the admin API request to the client's receipt of the notification. */
  deliveryP50: number
  deliveryP99: number
  cpu: Cpu
}

/** The main load (STORED.concurrency in flight) is the cell's own fields. */
export interface StoredCell extends StoredLoad {
  db: 'pglite' | 'postgres'
  rep: number
  /** Requests in flight in the main closed loop (STORED.concurrency). */
  concurrency?: number
  connected: number
  deliveryMax: number
  /** The same at a steady rate (STORED.pacedRatePerSec, open loop). */
  paced?: {
    createdPerSec: number
    httpP50: number
    httpP99: number
    deliveryP50: number
    deliveryP99: number
  }
  /** The same closed loop with STORED.saturation requests in flight (absent with --stored-saturation 0). */
  saturation?: StoredLoad & { concurrency: number }
  /** POST /api/admin/notifications/batch, STORED.batchSize recipients per request; counts notifications. */
  batch?: StoredLoad
  /** Median of three resumes of 1,000 missed notifications (send resume → receive resumed). */
  replayMs: number
  replayAllMs: number[]
  /** PostgreSQL only: the same row as single-statement inserts (its own commit each), the ceiling. */
  bare?: BareResult
  /** PostgreSQL only: the bare insert with STORED.saturation in flight (its ceiling on the machines measured). */
  bareSaturation?: BareResult & { concurrency: number }
  /** PostgreSQL only: Herald's transaction (seq bump, insert, NOTIFY) from bare postgres-js. */
  bareTransaction?: BareResult
  /** The bare insert with pg_notify in its statement: what PostgreSQL's notify lock alone costs. */
  bareNotify?: BareResult
  error?: string
}

export interface BareResult {
  inserted: number
  insertsPerSec: number
  p50: number
  p99: number
  cpu: Omit<Cpu, 'server'>
}

export interface BenchResults {
  startedAt: string
  finishedAt: string
  command: string
  machine: Record<string, string | number>
  settings: Record<string, unknown>
  hub: HubCell[]
  stored: StoredCell[]
  /** The bounded churn run (bench/lib/churn.ts); absent with --skip-churn. */
  churn?: ChurnResult
  /** Members joining and leaving one members channel (bench/lib/presencePhase.ts); absent with --skip-presence. */
  presence?: PresenceCell[]
  /** The restart storms (bench/storm.ts); absent with --skip-storm. */
  storm?: StormResult[]
}

/** One run of events: members between two counts joining (or leaving), one after another or all at once. */
export interface PresenceBucket {
  kind: 'join' | 'leave'
  mode: 'sequential' | 'burst'
  /** Subscribed members before and after the run. */
  fromMembers: number
  toMembers: number
  events: number
  /** Deliveries the run should cause (sequential: each event to every subscriber then; NaN for a burst). */
  expected: number
  received: number
  /** Sequential: events not delivered to every subscriber within the per-event timeout. */
  incomplete: number
  ms: number
  eventsPerSec: number
  deliveriesPerSec: number
  /** From the member's subscribe (unsubscribe) to the arrival of its join (leave), over every delivery. */
  p50: number
  p99: number
  max: number
  /** The server process's CPU time over the run (user + system), as read. */
  serverCpuMs: number
  /** The same less what the idle server uses in as long (its timers: heartbeats, polls): the run's own. */
  netCpuMs: number
  /** netCpuMs per event. */
  cpuUsPerEvent: number
  /** Deliveries per event (received / events). */
  fanOut: number
  /** The server's CPU per event divided by its fan-out. */
  cpuNsPerDelivery: number
  cpu: Cpu
}

export interface PresenceCell {
  server: Kind
  rep: number
  members: number
  connected: number
  /** The server's CPU while idle with every member connected, percent of one core (subtracted from each run). */
  idleCpuPercent: number
  buckets: PresenceBucket[]
  error?: string
}
