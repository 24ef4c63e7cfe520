import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The rate limits, as the `limit` label of herald_rate_limited_total. */
export type RateLimit =
  | 'sign_in'
  | 'admin_publish'
  | 'ws_upgrade'
  | 'ws_anonymous'
  | 'ws_messages'
  | 'ws_user_messages'

export interface Metrics {
  registry: Registry
  connections: Gauge
  authenticatedUsers: Gauge
  messagesSent: Counter
  /**
   * Adds to messagesSent. Sends are counted in a plain number and moved into the counter when it is read
   * (a scrape), so the hot send path does no prom-client work.
   */
  countSent(n: number): void
  sendFailures: Counter
  /** Refusals by a rate limit, by which one (RateLimit). */
  rateLimited: Counter<'limit'>
  /** Socket sign-ins' session checks, by where they were answered: memory, or the database (while loading). */
  sessionChecks: Counter<'source'>
  /** Adds one to sessionChecks, counted in plain numbers until a scrape (a sign-in does no prom-client work). */
  countSessionCheck(source: string): void
  /** Messages this instance received from a Redis bus (with sharded pub/sub: only what it follows). */
  busMessagesReceived: Counter
  notificationsCreated: Counter
  deliveryLatency: Histogram
  jobs: Gauge<'state'>
  /** Reorganisations the transfer watcher followed back to a common ancestor (or past its window). */
  chainReorgs: Counter
  /** How many blocks each of them replaced, from the watcher's tip down to the fork. */
  chainReorgDepth: Histogram
  /** Reorganisations deeper than WATCHER_REORG_WINDOW: reported, and re-read from the oldest block kept. */
  chainReorgsBeyondWindow: Counter
  /** The highest block the transfer watcher has read (compare with the chain's head for its lag). */
  chainWatcherBlock: Gauge
  /** Web Push requests' final outcomes per (notification, subscription): accepted, gone (404/410), failed. */
  webPushes: Counter<'outcome'>
  /**
   * Read at scrape time for the connection gauges (the hub's own counts), so opening and closing a socket does
   * no prom-client work; set by the composition root once the hub exists.
   */
  countConnections: (() => { connections: number; authenticatedUsers: number }) | null
  /** Read at scrape time for the jobs gauge; set by the composition root when there is a job table. */
  countJobs: (() => Promise<{ state: string; n: number }[]>) | null
}

/** One registry per app, so two servers in one process (tests) keep separate counts. */
export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'herald_process_' })
  let uncounted = 0
  const sessionChecksUncounted = new Map<string, number>()
  const metrics: Metrics = {
    countJobs: null,
    countConnections: null,
    countSent(n) {
      uncounted += n
    },
    countSessionCheck(source) {
      sessionChecksUncounted.set(source, (sessionChecksUncounted.get(source) ?? 0) + 1)
    },
    registry,
    connections: new Gauge({
      name: 'herald_ws_connections',
      help: 'Open WebSocket connections on this instance',
      registers: [registry],
      collect() {
        this.set(metrics.countConnections?.().connections ?? 0)
      },
    }),
    authenticatedUsers: new Gauge({
      name: 'herald_ws_authenticated_users',
      help: 'Distinct users with at least one authenticated connection on this instance',
      registers: [registry],
      collect() {
        this.set(metrics.countConnections?.().authenticatedUsers ?? 0)
      },
    }),
    messagesSent: new Counter({
      name: 'herald_ws_messages_sent_total',
      help: 'Messages sent to WebSocket connections (one per receiving connection)',
      registers: [registry],
      collect() {
        if (uncounted === 0) return
        this.inc(uncounted)
        uncounted = 0
      },
    }),
    sendFailures: new Counter({
      name: 'herald_ws_send_failures_total',
      help: 'Sends the runtime dropped (connection closed or buffer full)',
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'herald_rate_limited_total',
      help: 'Requests, upgrades, connections and socket messages refused by a rate limit, by limit',
      labelNames: ['limit'] as const,
      registers: [registry],
    }),
    sessionChecks: new Counter({
      name: 'herald_session_checks_total',
      help: 'Session checks of WebSocket sign-ins, by where they were answered (memory or database)',
      labelNames: ['source'] as const,
      registers: [registry],
      collect() {
        for (const [source, n] of sessionChecksUncounted) this.inc({ source }, n)
        sessionChecksUncounted.clear()
      },
    }),
    busMessagesReceived: new Counter({
      name: 'herald_bus_messages_received_total',
      help: 'Messages received from the Redis bus (with REDIS_SHARDED_PUBSUB, only the followed topics and the common channel)',
      registers: [registry],
    }),
    notificationsCreated: new Counter({
      name: 'herald_notifications_created_total',
      help: 'Notifications stored and announced',
      registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: 'herald_notification_delivery_seconds',
      help: 'From a notification being stored to this instance pushing it to its connections',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    chainReorgs: new Counter({
      name: 'herald_chain_reorgs_total',
      help: 'Chain reorganisations the transfer watcher rolled back',
      registers: [registry],
    }),
    chainReorgDepth: new Histogram({
      name: 'herald_chain_reorg_depth_blocks',
      help: 'Blocks each reorganisation replaced, from the watcher tip down to the fork',
      buckets: [1, 2, 3, 5, 8, 13, 21, 34, 64, 128, 256],
      registers: [registry],
    }),
    chainReorgsBeyondWindow: new Counter({
      name: 'herald_chain_reorgs_beyond_window_total',
      help: 'Reorganisations deeper than WATCHER_REORG_WINDOW (re-read from the oldest block kept)',
      registers: [registry],
    }),
    webPushes: new Counter({
      name: 'herald_web_push_total',
      help: 'Web Pushes by final outcome: accepted (2xx), gone (404/410, subscription removed), failed',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    chainWatcherBlock: new Gauge({
      name: 'herald_chain_watcher_block',
      help: 'The highest block the transfer watcher has read on this instance (its tip)',
      registers: [registry],
    }),
    jobs: new Gauge({
      name: 'herald_jobs',
      help: 'Background jobs by state',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        if (!metrics.countJobs) return
        this.reset()
        for (const { state, n } of await metrics.countJobs()) this.set({ state }, n)
      },
    }),
  }
  return metrics
}
