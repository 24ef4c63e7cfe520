import type { Socket } from 'bun'

/**
 * How a cut proxy treats connections: `refuse` resets every new one at once (the host is up, the port is
 * closed); `blackhole` accepts them and never answers (a dropped route or a hung peer), which is the case
 * that only a client-side timeout ends.
 */
export type CutMode = 'refuse' | 'blackhole'

export interface TcpProxy {
  /** 127.0.0.1:PORT of the proxy. */
  host: string
  port: number
  /** `target` with the proxy's host and port instead (postgres://…, http://…). */
  url(target: string): string
  /** Connections through the proxy that are open right now. */
  readonly open: number
  /**
   * From now on the target is unreachable: every open connection is destroyed (the client sees a reset),
   * and new ones are refused or black-holed. Nothing is sent to the target.
   */
  cut(mode?: CutMode): void
  /**
   * Open connections stay open but stop carrying data in either direction, and new ones are black-holed:
   * a peer that hangs without closing anything.
   */
  freeze(): void
  /** Connections made from now on reach the target again; black-holed ones are destroyed. */
  restore(): void
  /**
   * The next `count` times the target sends anything, that connection is destroyed instead and the bytes never
   * reach the client. Armed before an HTTP request: the request got through whole and was handled, and the
   * client sees its connection close before any response (a publisher's nightmare). Later data passes again.
   */
  dropReplies(count?: number): void
  /** How many answers dropReplies has dropped so far. */
  readonly repliesDropped: number
  /**
   * Destroys a random `share` (0 to 1) of the open connections at once, as a network storm would: their
   * clients see the TCP connection die; new ones still get through. Answers how many were dropped.
   */
  drop(share: number): number
  stop(): Promise<void>
}

/**
 * A TCP proxy in front of one host:port (PostgreSQL, an RPC node) that a test can cut and restore: from the
 * client's point of view the server went away, without touching the shared server itself.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let state: 'up' | 'frozen' | CutMode = 'up'
  let repliesToDrop = 0
  let repliesDropped = 0
  interface Pair {
    client: Socket<Link>
    upstream: Socket<undefined> | null
    /** What the client sent before the upstream connection was open. */
    waiting: Uint8Array[]
    /** A frozen pair dropped data: its byte stream is broken for good, and restore() ends it. */
    broken: boolean
  }
  type Link = { pair: Pair | null; held: boolean }
  const pairs = new Set<Pair>()
  const held = new Set<Socket<Link>>()

  // Bun's write() may take only part of a chunk when the socket is full: the rest waits for drain, in order.
  const backlogs = new WeakMap<object, Uint8Array[]>()
  const send = (socket: Socket<Link> | Socket<undefined>, chunk: Uint8Array) => {
    const backlog = backlogs.get(socket)
    if (backlog?.length) {
      backlog.push(chunk)
      return
    }
    const written = socket.write(chunk)
    if (written < chunk.byteLength) {
      const rest = chunk.subarray(Math.max(0, written))
      if (backlog) backlog.push(rest)
      else backlogs.set(socket, [rest])
    }
  }
  const flush = (socket: Socket<Link> | Socket<undefined>) => {
    const backlog = backlogs.get(socket)
    while (backlog?.length) {
      const chunk = backlog[0]!
      const written = socket.write(chunk)
      if (written < chunk.byteLength) {
        backlog[0] = chunk.subarray(Math.max(0, written))
        return
      }
      backlog.shift()
    }
  }

  const end = (pair: Pair) => {
    pairs.delete(pair)
    pair.client.terminate()
    pair.upstream?.terminate()
  }

  const server = Bun.listen<Link>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(client) {
        client.data = { pair: null, held: false }
        if (state === 'refuse') {
          client.terminate()
          return
        }
        if (state === 'blackhole' || state === 'frozen') {
          client.data.held = true
          held.add(client)
          return
        }
        const pair: Pair = { client, upstream: null, waiting: [], broken: false }
        client.data.pair = pair
        pairs.add(pair)
        Bun.connect({
          hostname: target.host,
          port: target.port,
          socket: {
            open(upstream) {
              if (!pairs.has(pair)) {
                upstream.terminate()
                return
              }
              pair.upstream = upstream
              for (const chunk of pair.waiting.splice(0)) send(upstream, chunk)
            },
            data(_upstream, chunk) {
              if (state !== 'up') pair.broken = true
              else if (repliesToDrop > 0) {
                repliesToDrop--
                repliesDropped++
                end(pair)
              } else send(client, new Uint8Array(chunk))
            },
            drain(upstream) {
              flush(upstream)
            },
            close() {
              end(pair)
            },
            error() {
              end(pair)
            },
            connectError() {
              end(pair)
            },
          },
        }).catch(() => end(pair))
      },
      data(client, chunk) {
        const pair = client.data.pair
        if (!pair) return // held: read and dropped, so the client's writes never block
        if (state !== 'up') pair.broken = true
        else if (pair.upstream) send(pair.upstream, new Uint8Array(chunk))
        else pair.waiting.push(new Uint8Array(chunk))
      },
      drain(client) {
        flush(client)
      },
      close(client) {
        held.delete(client)
        if (client.data.pair) end(client.data.pair)
      },
      error(client) {
        held.delete(client)
        if (client.data.pair) end(client.data.pair)
      },
    },
  })
  const port = server.port

  const destroyAll = () => {
    for (const pair of [...pairs]) end(pair)
  }

  return {
    host: '127.0.0.1',
    port,
    url(to: string) {
      const parsed = new URL(to)
      parsed.hostname = '127.0.0.1'
      parsed.port = String(port)
      return parsed.toString()
    },
    get open() {
      return pairs.size
    },
    cut(mode: CutMode = 'refuse') {
      state = mode
      destroyAll()
    },
    freeze() {
      state = 'frozen'
    },
    restore() {
      state = 'up'
      for (const pair of [...pairs]) if (pair.broken) end(pair)
      for (const socket of [...held]) socket.terminate()
      held.clear()
    },
    dropReplies(count = 1) {
      repliesToDrop = count
    },
    get repliesDropped() {
      return repliesDropped
    },
    drop(share) {
      let dropped = 0
      for (const pair of [...pairs]) {
        if (Math.random() >= share) continue
        end(pair)
        dropped++
      }
      return dropped
    },
    async stop() {
      state = 'refuse'
      destroyAll()
      for (const socket of [...held]) socket.terminate()
      held.clear()
      server.stop(true)
    },
  }
}
