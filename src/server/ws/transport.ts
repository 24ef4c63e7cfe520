import type { Server } from 'bun'
import type { Metrics } from '../metrics/createMetrics'
import type { StreamTransport } from '../streams/delivery'
import type { Connection } from './Connection'
import type { SlowConsumerSweep } from './slowConsumers'

/** The topic every open connection is subscribed to: a broadcast is one native publish. */
const ALL = 'all'

/**
 * Up to this many receivers, a topic's frame counts towards each one's unsent bound (an inbox's few tabs);
 * beyond, towards every connection's at once (see the sweep's addBroadcast): a fan-out then costs the same
 * JavaScript whatever the number of subscribers.
 */
const PER_MEMBER_ACCOUNTING = 32

/** Most bytes a text frame can take: 3 UTF-8 bytes per UTF-16 unit, and the largest server frame header. */
const frameBytesBound = (frame: string) => frame.length * 3 + 10

/**
 * The hub's sockets as the rooms see them: sends, Bun's native topics (a fan-out to thousands is one call
 * into native code) and buffered amounts. Every frame is counted (messages sent) and towards its sockets'
 * unsent bounds, so the slow-consumer sweep knows whom to look at.
 */
export interface Transport extends StreamTransport<Connection> {
  attach(server: Server<unknown>): void
  /** One frame to every open connection; `receivers` is how many there are (known without asking Bun). */
  broadcast(frame: string, receivers: number): void
  /** Joins the connection to the broadcast topic (at open). */
  joinAll(connection: Connection): void
  close(connection: Connection, code: number, reason: string): void
}

export function createTransport(params: { metrics: Metrics; sweep: SlowConsumerSweep }): Transport {
  const { metrics, sweep } = params
  let server: Server<unknown> | null = null
  const send = (connection: Connection, frame: string) => {
    if (connection.closed) return
    const result = connection.ws!.send(frame)
    if (result > 0) {
      metrics.countSent(1)
      return
    }
    // -1: queued behind unsent data; 0: dropped (the buffer is past backpressureLimit, or the socket closed).
    if (result === 0) {
      metrics.sendFailures.inc()
      sweep.addUnsent(connection, Number.POSITIVE_INFINITY)
    } else {
      metrics.countSent(1)
      sweep.addUnsent(connection, frameBytesBound(frame))
    }
  }
  return {
    attach(attached) {
      server = attached
    },
    send,
    publish(topic, frame, members, receivers) {
      if (!server) return
      server.publish(topic, frame)
      metrics.countSent(receivers)
      const bytes = frameBytesBound(frame)
      // A busy channel's thousands of subscribers are counted like a broadcast's, without touching each.
      if (members.length > PER_MEMBER_ACCOUNTING) sweep.addBroadcast(bytes)
      else for (const connection of members) sweep.addUnsent(connection, bytes)
    },
    broadcast(frame, receivers) {
      if (!server || receivers === 0) return
      server.publish(ALL, frame)
      metrics.countSent(receivers)
      sweep.addBroadcast(frameBytesBound(frame))
    },
    joinAll(connection) {
      connection.ws!.subscribe(ALL)
    },
    subscribe(connection, topic) {
      if (!connection.closed) connection.ws!.subscribe(topic)
    },
    unsubscribe(connection, topic) {
      if (!connection.closed) connection.ws!.unsubscribe(topic)
    },
    cork(connection, sends) {
      if (connection.closed) return
      connection.ws!.cork(sends)
    },
    close(connection, code, reason) {
      try {
        connection.ws!.close(code, reason)
      } catch {}
    },
  }
}
