import type { Socket } from 'bun'

/**
 * A Redis connection in sharded pub/sub mode (SSUBSCRIBE, SUNSUBSCRIBE, `smessage`), which Bun's RedisClient
 * sends but does not deliver: a few lines of RESP2 over a socket of its own. One node only (a Redis Cluster
 * would answer MOVED for shard channels another node owns).
 */
export interface ShardedSubscriber {
  /** Resolves once Redis confirmed the subscription: from then on its messages arrive. */
  subscribe(channel: string): Promise<void>
  unsubscribe(channel: string): void
  close(): void
}

const encode = (args: string[]) => {
  let out = `*${args.length}\r\n`
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`
  return out
}

type Value = string | number | null | Value[] | Error

/** One RESP2 value from `buffer` at `at`: the value and where the next one starts, or null when incomplete. */
function parse(buffer: Buffer, at: number): [Value, number] | null {
  const end = buffer.indexOf('\r\n', at)
  if (end < 0) return null
  const type = String.fromCharCode(buffer[at]!)
  const line = buffer.toString('utf8', at + 1, end)
  const next = end + 2
  switch (type) {
    case '+':
      return [line, next]
    case '-':
      return [new Error(line), next]
    case ':':
      return [Number(line), next]
    case '$': {
      const length = Number(line)
      if (length < 0) return [null, next]
      if (buffer.length < next + length + 2) return null
      return [buffer.toString('utf8', next, next + length), next + length + 2]
    }
    case '*': {
      const count = Number(line)
      const items: Value[] = []
      let position = next
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, position)
        if (!item) return null
        items.push(item[0])
        position = item[1]
      }
      return [items, position]
    }
    default:
      return [new Error(`unexpected RESP type ${type}`), next]
  }
}

export async function connectShardedSubscriber(params: {
  url: string
  /** The connection's name in CLIENT LIST (default herald-bus-shards). */
  name?: string
  onMessage(channel: string, payload: string): void
  /** The connection ended (not by close()); the owner reconnects and subscribes again. */
  onClose(error: Error): void
}): Promise<ShardedSubscriber> {
  const url = new URL(params.url)
  const tls = url.protocol === 'rediss:' || url.protocol === 'valkeys:'
  const waiting = new Map<string, { resolve(): void; reject(error: Error): void }[]>()
  const commands: string[] = []
  let pending: Buffer = Buffer.alloc(0)
  let closing = false
  let ready: { resolve(): void; reject(error: Error): void } | null = null

  const settle = (channel: string, error?: Error) => {
    const list = waiting.get(channel)
    const first = list?.shift()
    if (list && list.length === 0) waiting.delete(channel)
    if (first) error ? first.reject(error) : first.resolve()
  }

  const handle = (value: Value) => {
    if (value instanceof Error) {
      // An error answers the oldest command still waiting (AUTH, or a subscribe).
      const command = commands.shift()
      if (command === 'AUTH' || command === 'SETNAME') ready?.reject(value)
      else if (command) settle(command, value)
      return
    }
    if (!Array.isArray(value)) {
      // +OK of AUTH or CLIENT SETNAME.
      const command = commands[0]
      if (command === 'AUTH' || command === 'SETNAME') {
        commands.shift()
        ready?.resolve()
      }
      return
    }
    const [kind, channel, payload] = value as [string, string, Value]
    if (kind === 'smessage' && typeof payload === 'string') params.onMessage(channel, payload)
    else if (kind === 'ssubscribe') {
      const at = commands.indexOf(channel)
      if (at >= 0) commands.splice(at, 1)
      settle(channel)
    }
  }

  const socket: Socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port || 6379),
    tls,
    socket: {
      data(_, chunk) {
        pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk])
        let at = 0
        for (;;) {
          const parsed = parse(pending, at)
          if (!parsed) break
          at = parsed[1]
          handle(parsed[0])
        }
        pending = at >= pending.length ? Buffer.alloc(0) : pending.subarray(at)
      },
      close() {
        const error = new Error('the Redis sharded subscriber connection closed')
        for (const list of waiting.values()) for (const waiter of list) waiter.reject(error)
        waiting.clear()
        if (!closing) params.onClose(error)
      },
      error(_, error) {
        if (!closing) params.onClose(error)
      },
    },
  })

  if (url.password) {
    const user = decodeURIComponent(url.username)
    const password = decodeURIComponent(url.password)
    await new Promise<void>((resolve, reject) => {
      ready = { resolve, reject }
      commands.push('AUTH')
      socket.write(encode(user ? ['AUTH', user, password] : ['AUTH', password]))
    })
  }

  // Named, so an operator (or a test) finds it in CLIENT LIST.
  await new Promise<void>((resolve, reject) => {
    ready = { resolve, reject }
    commands.push('SETNAME')
    socket.write(encode(['CLIENT', 'SETNAME', params.name ?? 'herald-bus-shards']))
  })

  return {
    subscribe(channel) {
      return new Promise<void>((resolve, reject) => {
        const list = waiting.get(channel) ?? []
        list.push({ resolve, reject })
        waiting.set(channel, list)
        commands.push(channel)
        socket.write(encode(['SSUBSCRIBE', channel]))
      })
    },
    unsubscribe(channel) {
      socket.write(encode(['SUNSUBSCRIBE', channel]))
    },
    close() {
      closing = true
      socket.end()
    },
  }
}
