import { RedisClient } from 'bun'
import type { ErrorReporter } from '../errors'
import { withTimeout } from '../time/withTimeout'
import { topicOf } from './busTopics'
import { dispatch } from './dispatch'
import { reportFailures } from './reportFailures'
import { connectShardedSubscriber, type ShardedSubscriber } from './shardedSubscriber'
import type { Bus, BusEvent, BusListener } from './types'

const PUBLISH_TIMEOUT_MS = 2000
const RECONNECT_PAUSE_MS = 500

/**
 * Redis pub/sub for deployments where NOTIFY throughput is the limit. Events are published after their
 * transaction commits (Redis cannot take part in it), so the hub's gap filling from the database covers a
 * process that dies between the two. The subscriber reconnects with jittered exponential backoff and asks
 * the listeners to resync afterwards, since messages published while it was away are gone.
 */
export function createRedisBus(params: {
  url: string
  channel: string
  /**
   * REDIS_SHARDED_PUBSUB: channel and user events go by SPUBLISH to their topic (busTopics.ts), and an instance
   * receives only the topics it follows; the rest stays on the common channel.
   */
  sharded?: boolean
  /** Each message received from Redis (the herald_bus_messages_received_total metric). */
  onReceived?: () => void
  onError: ErrorReporter
}): Bus {
  const { url, channel, onError } = params
  const sharded = params.sharded ?? false
  /** Topic → how many follow it here. */
  const followed = new Map<string, number>()
  const confirmations = new Map<string, Promise<void>>()
  const confirmed = new Set<string>()
  let shards: ShardedSubscriber | null = null
  const shardName = (topic: string) => `${channel}:${topic}`
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
    params.onReceived?.()
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
      if (sharded) {
        shards?.close()
        shards = await connectShardedSubscriber({
          url,
          name: `herald-bus-shards:${channel}`,
          onMessage: (_, message) => receive(message),
          onClose: (error) => {
            if (subscriber !== client || !active) return
            // Both connections start again together, and the listeners resync.
            onError(error, 'redis bus sharded subscriber disconnected')
            subscriber = null
            client.close()
            scheduleReconnect()
          },
        })
        await Promise.all([...followed.keys()].map((topic) => shards!.subscribe(shardName(topic))))
      }
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
    const topic = sharded ? topicOf(event) : null
    await withTimeout(
      topic === null
        ? client.publish(channel, JSON.stringify(event))
        : client.send('SPUBLISH', [shardName(topic), JSON.stringify(event)]),
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
    ...(sharded
      ? {
          follow(topic: string): Promise<void> | null {
            const count = followed.get(topic) ?? 0
            followed.set(topic, count + 1)
            // Followed and confirmed already: its events arrive, nothing to catch up (null). Still being
            // confirmed: resolves with the first follow's confirmation.
            if (count > 0 && confirmed.has(topic)) return null
            const confirming = confirmations.get(topic)
            if (count > 0 && confirming) return confirming
            // Not connected: the reconnection subscribes it, and the listeners resync.
            if (!shards) return Promise.resolve()
            const subscribed = shards.subscribe(shardName(topic))
            confirmations.set(topic, subscribed)
            subscribed.then(
              () => {
                if (confirmations.get(topic) === subscribed) confirmed.add(topic)
              },
              () => {
                if (confirmations.get(topic) === subscribed) confirmations.delete(topic)
              },
            )
            return subscribed
          },
          unfollow(topic: string) {
            const count = followed.get(topic) ?? 0
            if (count > 1) {
              followed.set(topic, count - 1)
              return
            }
            followed.delete(topic)
            confirmations.delete(topic)
            confirmed.delete(topic)
            shards?.unsubscribe(shardName(topic))
          },
        }
      : {}),
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
      shards?.close()
      shards = null
      publisher?.close()
      publisher = null
      publisherFailedAt = Number.NEGATIVE_INFINITY
      everConnected = false
    },
  }
}
