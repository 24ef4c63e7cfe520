import type { Schedule } from '../time/clock'
import type { Connection } from './Connection'

const SWEEP_MS = 1000

export interface SlowConsumerSweep {
  /** Counts a frame sent to one connection towards its bound. */
  addUnsent(connection: Connection, bytes: number): void
  /** Counts a frame sent to every connection (a broadcast), without touching each. */
  addBroadcast(bytes: number): void
  stop(): void
}

/**
 * A client that stops reading would make the server hold its frames for ever: it is closed instead (4009;
 * it recovers with `resume`). At most once a second, and only for connections that could be past the limit
 * from what was sent to them since their buffer was last read, so idle connections and ones that keep up cost
 * nothing here: reading a socket's buffered amount is far from free.
 */
export function createSlowConsumerSweep(params: {
  limitBytes: number
  connections: () => Iterable<Connection>
  close(connection: Connection): void
  schedule: Schedule
}): SlowConsumerSweep {
  const limit = params.limitBytes
  /** Connections whose unsentBound passed the limit: the next sweep reads their real buffered amount. */
  let suspects: Connection[] = []
  /**
   * Bound of the bytes broadcast since they were last added to every connection's unsentBound: that pass over
   * all connections waits until it could find one past the limit (`maxUnsentBound` is at least the largest
   * unsentBound), so broadcasts cost nothing per connection here either.
   */
  let broadcastBytes = 0
  let maxUnsentBound = 0
  let cancel: (() => void) | null = null

  const scheduleSweep = () => {
    cancel ??= params.schedule(sweep, SWEEP_MS)
  }

  const sweep = () => {
    cancel = null
    const due = suspects
    suspects = []
    if (broadcastBytes + maxUnsentBound > limit) {
      const broadcast = broadcastBytes
      broadcastBytes = 0
      let max = 0
      for (const connection of params.connections()) {
        const bound = connection.unsentBound + broadcast
        connection.unsentBound = bound
        if (bound > max) max = bound
        if (!connection.suspect && bound > limit) {
          connection.suspect = true
          due.push(connection)
        }
      }
      maxUnsentBound = max
    }
    for (const connection of due) {
      connection.suspect = false
      if (connection.closed) continue
      const buffered = connection.ws!.getBufferedAmount()
      // Broadcasts not yet added to the bound are in the buffered amount already.
      connection.unsentBound = buffered - broadcastBytes
      if (buffered > limit) params.close(connection)
    }
  }

  return {
    addUnsent(connection, bytes) {
      const bound = connection.unsentBound + bytes
      connection.unsentBound = bound
      if (bound > maxUnsentBound) maxUnsentBound = bound
      if (connection.suspect || bound + broadcastBytes <= limit) return
      connection.suspect = true
      suspects.push(connection)
      scheduleSweep()
    },
    addBroadcast(bytes) {
      broadcastBytes += bytes
      if (broadcastBytes + maxUnsentBound > limit) scheduleSweep()
    },
    stop() {
      cancel?.()
      cancel = null
      suspects = []
    },
  }
}
