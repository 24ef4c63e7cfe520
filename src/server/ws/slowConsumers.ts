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
 * it recovers with `resume`). Only connections that could be past the limit from what was sent to them since
 * their buffer was last read are looked at (reading a socket's buffered amount is far from free): at once for
 * frames sent to the connection itself, at most once a second for broadcasts, which are counted for every
 * connection at once.
 */
export function createSlowConsumerSweep(params: {
  limitBytes: number
  connections: () => Iterable<Connection>
  close(connection: Connection): void
  schedule: Schedule
}): SlowConsumerSweep {
  const limit = params.limitBytes
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
    const due: Connection[] = []
    if (broadcastBytes + maxUnsentBound > limit) {
      const broadcast = broadcastBytes
      broadcastBytes = 0
      let max = 0
      for (const connection of params.connections()) {
        const bound = connection.unsentBound + broadcast
        connection.unsentBound = bound
        if (bound > max) max = bound
        if (bound > limit) due.push(connection)
      }
      maxUnsentBound = max
    }
    for (const connection of due) check(connection)
  }

  /** Reads the connection's real buffered amount; past the limit, it is closed. */
  const check = (connection: Connection) => {
    if (connection.closed) return
    const buffered = connection.ws!.getBufferedAmount()
    // Broadcasts not yet added to the bound are in the buffered amount already.
    connection.unsentBound = buffered - broadcastBytes
    // Closed once the frames being sent in this turn are out (a delivery may be iterating its members): the
    // socket cannot drain within the turn, so nothing reaches it in between that would not have been dropped.
    if (buffered > limit) queueMicrotask(() => params.close(connection))
  }

  return {
    addUnsent(connection, bytes) {
      const bound = connection.unsentBound + bytes
      connection.unsentBound = bound
      if (bound > maxUnsentBound) maxUnsentBound = bound
      if (bound + broadcastBytes <= limit) return
      // Checked now, not at the next sweep: Bun drops a frame once the buffer passes its backpressure limit
      // (twice ours) and sends the next ones that fit, so a client falling behind faster than a sweep's second
      // would see a gap in its stream before its 4009. A connection's bound only passes the limit again after
      // another `limit` bytes were sent to it since it was read, so a client that keeps up costs one read per
      // `limit` bytes.
      check(connection)
    },
    addBroadcast(bytes) {
      broadcastBytes += bytes
      if (broadcastBytes + maxUnsentBound > limit) scheduleSweep()
    },
    stop() {
      cancel?.()
      cancel = null
    },
  }
}
