import { RedisClient } from 'bun'
import type { ErrorReporter } from '../errors'
import type { Bus, BusEvent, BusListener } from './types'

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
  let subscriber: RedisClient | null = null
  let active = false
  let attempt = 0
  let retryTimer: Timer | null = null
  let everConnected = false

  const dispatch = (payload: string) => {
    let event: BusEvent
    try {
      event = JSON.parse(payload)
    } catch (error) {
      onError(error, 'parsing a bus message')
      return
    }
    for (const listener of listeners) {
      try {
        listener.onEvent(event)
      } catch (error) {
        onError(error, `bus listener failed on ${event.kind}`)
      }
    }
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
      await client.subscribe(channel, (message) => dispatch(message))
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

  return {
    kind: 'redis',
    async publish(event) {
      if (!publisher) throw new Error('The Redis bus is not started.')
      await publisher.publish(channel, JSON.stringify(event))
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async start() {
      if (active) return
      active = true
      publisher = new RedisClient(url)
      await publisher.connect()
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
      everConnected = false
    },
  }
}
