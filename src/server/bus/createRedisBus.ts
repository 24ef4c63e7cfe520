import { RedisClient } from 'bun'
import type { ErrorReporter } from '../errors'
import { withTimeout } from '../time/withTimeout'
import { dispatch } from './dispatch'
import { reportFailures } from './reportFailures'
import type { Bus, BusEvent, BusListener } from './types'

const PUBLISH_TIMEOUT_MS = 2000
const RECONNECT_PAUSE_MS = 500

/**
 * Redis pub/sub for deployments where NOTIFY throughput is the limit. Events are published after their
 * transaction commits (Redis cannot take part in it), so the hub's gap filling from the database covers a
 * process that dies between the two. The subscriber reconnects with jittered exponential backoff and asks
 * the listeners to resync afterwards, since messages published while it was away are gone.
 */
export function createRedisBus(params: { url: string; channel: string; onError: ErrorReporter }): Bus {
  const { url, channel, onError } = params
  const listeners = new Set<BusListener>()
  let publisher: RedisClient | null = null
  let connectingPublisher: Promise<RedisClient> | null = null
  let publisherFailedAt = Number.NEGATIVE_INFINITY
  let subscriber: RedisClient | null = null
  let active = false
  let attempt = 0
  let retryTimer: Timer | null = null
  let everConnected = false

  const receive = (payload: string) => {
    let event: BusEvent
    try {
      event = JSON.parse(payload)
    } catch (error) {
      onError(error, 'parsing a bus message')
      return
    }
    dispatch(listeners, event, onError)
  }

  const scheduleReconnect = () => {
    if (!active || retryTimer) return
    const delay = Math.min(5000, 100 * 2 ** attempt++) * (0.5 + Math.random() / 2)
    retryTimer = setTimeout(() => {
      retryTimer = null
      void connectSubscriber()
    }, delay)
  }

  const connectSubscriber = async () => {
    const client = new RedisClient(url, { autoReconnect: false, enableOfflineQueue: false })
    subscriber = client
    client.onclose = (error) => {
      if (subscriber !== client || !active) return
      onError(error, 'redis bus subscriber disconnected')
      subscriber = null
      scheduleReconnect()
    }
    try {
      await client.connect()
      await client.subscribe(channel, (message) => receive(message))
      attempt = 0
      if (everConnected) for (const listener of listeners) listener.onResync?.()
      everConnected = true
    } catch (error) {
      onError(error, 'redis bus subscriber connect')
      if (subscriber === client) subscriber = null
      client.close()
      if (!everConnected) throw error
      scheduleReconnect()
    }
  }

  // The publisher never makes a publish wait for Redis: while Redis is away a publish fails at once (no
  // offline queue), and one sent into a connection that stopped answering fails after PUBLISH_TIMEOUT_MS.
  // Otherwise every request that announces (after its data committed) would hang for the outage. It is
  // reconnected on demand, at most one attempt per RECONNECT_PAUSE_MS, so it comes back however long the
  // outage lasted (Bun's own reconnection gives up after its retries).
  const openPublisher = async () => {
    const client = new RedisClient(url, {
      autoReconnect: false,
      enableOfflineQueue: false,
      connectionTimeout: PUBLISH_TIMEOUT_MS,
    })
    try {
      await client.connect()
    } catch (error) {
      client.close()
      throw error
    }
    return client
  }

  const readyPublisher = (): Promise<RedisClient> => {
    if (!active) return Promise.reject(new Error('The Redis bus is not started.'))
    if (publisher?.connected) return Promise.resolve(publisher)
    if (connectingPublisher) return connectingPublisher
    if (performance.now() - publisherFailedAt < RECONNECT_PAUSE_MS)
      return Promise.reject(new Error('Redis is unreachable (the bus publisher is reconnecting).'))
    const attempt = openPublisher().then(
      (client) => {
        if (!active) {
          client.close()
          throw new Error('The Redis bus is stopped.')
        }
        publisher?.close()
        publisher = client
        return client
      },
      (error) => {
        publisherFailedAt = performance.now()
        throw error
      },
    )
    connectingPublisher = attempt
    const settled = () => {
      if (connectingPublisher === attempt) connectingPublisher = null
    }
    attempt.then(settled, settled)
    return attempt
  }

  const send = async (event: BusEvent) => {
    const client = await readyPublisher()
    await withTimeout(
      client.publish(channel, JSON.stringify(event)),
      PUBLISH_TIMEOUT_MS,
      `Redis did not answer a PUBLISH within ${PUBLISH_TIMEOUT_MS} ms.`,
    )
  }

  return {
    kind: 'redis',
    // Redis cannot take part in a PostgreSQL transaction: events go out right after the commit.
    notifyChannel: null,
    announce: reportFailures(send, onError),
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async start() {
      if (active) return
      active = true
      publisher = await openPublisher()
      await connectSubscriber()
    },
    async stop() {
      active = false
      if (retryTimer) clearTimeout(retryTimer)
      retryTimer = null
      subscriber?.close()
      subscriber = null
      publisher?.close()
      publisher = null
      publisherFailedAt = Number.NEGATIVE_INFINITY
      everConnected = false
    },
  }
}
