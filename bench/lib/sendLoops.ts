import { now, sleep, yieldToLoop } from './clock'

export type BenchMessage = { type: string; [key: string]: unknown }

export interface SendOps {
  /** One message to every connection. */
  broadcast(message: BenchMessage): unknown
  /** One message to every connection of one user. */
  toUser(userId: string, message: BenchMessage): unknown
  /** One publication to every subscriber of the bench channel (Herald stores it first). */
  channel?(message: BenchMessage): unknown
}

/** The channel every connection subscribes to in the channel phases (a topic on bare Bun, a room on Socket.IO). */
export const BENCH_CHANNEL = 'public:bench'

export interface SendReport {
  /** When the first message was handed to the server's send call (clock.now()). */
  start: number
  end: number
  sent: number
}

/**
 * The server side of the delivery phases, the same for every server: each message carries the time it was
 * handed to the server's own send call (`t`), so the client measures send → receipt on the same clock. With
 * intervalMs 0 the loop only yields to the event loop between bursts (the throughput phases); otherwise it
 * sleeps between them (the latency phases). Every loop is bounded by its count.
 */
export function sendLoops(ops: SendOps, userIds: string[]) {
  const pause = (intervalMs: number) => (intervalMs > 0 ? sleep(intervalMs) : yieldToLoop())
  return {
    async broadcast(args: Record<string, unknown>): Promise<SendReport> {
      const count = Number(args.count)
      const intervalMs = Number(args.intervalMs ?? 0)
      const start = now()
      for (let i = 0; i < count; i++) {
        ops.broadcast({ type: 'bench', i, t: now() })
        await pause(intervalMs)
      }
      return { start, end: now(), sent: count }
    },
    /** `count` publications on the bench channel, each to every subscriber. */
    async channel(args: Record<string, unknown>): Promise<SendReport> {
      if (!ops.channel) throw new Error('this server has no channels')
      const count = Number(args.count)
      const intervalMs = Number(args.intervalMs ?? 0)
      const start = now()
      for (let i = 0; i < count; i++) {
        ops.channel({ type: 'bench', i, t: now() })
        await pause(intervalMs)
      }
      return { start, end: now(), sent: count }
    },
    /** `rounds` times, one message to each user in turn (the shape of job_status / data_update pushes). */
    async perUser(args: Record<string, unknown>): Promise<SendReport> {
      const rounds = Number(args.rounds)
      const intervalMs = Number(args.intervalMs ?? 0)
      const start = now()
      let sent = 0
      for (let round = 0; round < rounds; round++) {
        for (const userId of userIds) {
          ops.toUser(userId, {
            type: 'data_update',
            entity: 'user',
            action: 'updated',
            data: { i: round, t: now() },
          })
          sent++
        }
        await pause(intervalMs)
      }
      return { start, end: now(), sent }
    },
  }
}
