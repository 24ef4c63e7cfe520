import { eq, lt, sql } from 'drizzle-orm'
import postgres from 'postgres'
import {
  CONNECT_TIMEOUT_SECONDS,
  type Database,
  RECONNECT_BACKOFF_MAX_SECONDS,
  type Transaction,
} from '../db/openDatabase'
import { busPayloads } from '../db/schema'
import type { ErrorReporter } from '../errors'
import { announceCommitted } from './announceCommitted'
import type { Bus, BusEvent, BusListener } from './types'

const CHANNEL = 'herald_bus'
// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; keep a margin for the envelope.
export const MAX_INLINE_BYTES = 7000

/**
 * The channel a statement can pg_notify on itself when the bus is this PostgreSQL bus (so the announcement
 * commits with the statement, without a round trip of its own), or null for buses that publish after commit.
 * A payload over MAX_INLINE_BYTES must then go into bus_payloads and be sent as `{"ref": id}`.
 */
export function statementChannel(bus: Bus): string | null {
  return bus.kind === 'postgres' ? CHANNEL : null
}

/**
 * Many instances on one PostgreSQL: every event is a NOTIFY on one channel that every instance (this one
 * included) LISTENs to, so all of them deliver it the same way. Payloads too large for NOTIFY are stored and
 * sent by id. The listening connection reconnects by itself (postgres-js re-LISTENs); after a reconnect the
 * listeners are asked to resync from the database, since NOTIFYs sent while it was down are gone.
 */
export function createPostgresBus(params: { url: string; db: Database; onError: ErrorReporter }): Bus {
  const { db, onError } = params
  const listeners = new Set<BusListener>()
  let client: postgres.Sql | null = null
  let listening = false
  let sweepTimer: Timer | null = null

  const dispatch = (event: BusEvent) => {
    for (const listener of listeners) {
      try {
        listener.onEvent(event)
      } catch (error) {
        onError(error, `bus listener failed on ${event.kind}`)
      }
    }
  }

  const receive = async (payload: string) => {
    try {
      const message = JSON.parse(payload) as BusEvent | { ref: number }
      if ('ref' in message) {
        const [row] = await db.select().from(busPayloads).where(eq(busPayloads.id, message.ref))
        if (!row) throw new Error(`bus payload ${message.ref} is gone`)
        dispatch(row.payload as BusEvent)
      } else dispatch(message)
    } catch (error) {
      onError(error, 'receiving a bus message')
    }
  }

  // NOTIFY inside a transaction is delivered at its commit, in commit order, and never if it rolls back.
  const announce = async (tx: Transaction, event: BusEvent) => {
    let payload = JSON.stringify(event)
    if (Buffer.byteLength(payload) > MAX_INLINE_BYTES) {
      const [row] = await tx.insert(busPayloads).values({ payload: event }).returning({ id: busPayloads.id })
      payload = JSON.stringify({ ref: row!.id })
    }
    await tx.execute(sql`select pg_notify(${CHANNEL}, ${payload})`)
  }
  const publish = async (event: BusEvent) => {
    await db.transaction((tx) => announce(tx, event))
  }

  return {
    kind: 'postgres',
    publish,
    announceCommitted: announceCommitted(publish, onError),
    publishWithin: (tx, event) => announce(tx, event),
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async start() {
      if (client) return
      client = postgres(params.url, {
        max: 1,
        onnotice: () => {},
        // As the pool's (openDatabase): after an outage the LISTEN connection comes back within about a
        // second of the database, not after postgres-js's default back-off of up to 20 s.
        connect_timeout: CONNECT_TIMEOUT_SECONDS,
        backoff: (failures: number) => Math.min(0.05 * 2 ** failures, RECONNECT_BACKOFF_MAX_SECONDS),
        connection: { application_name: 'herald-bus' },
      })
      await client.listen(
        CHANNEL,
        (payload) => void receive(payload),
        () => {
          // Called on the first LISTEN and again after every reconnect: only the later ones may have missed events.
          if (listening) for (const listener of listeners) listener.onResync?.()
          listening = true
        },
      )
      sweepTimer = setInterval(() => {
        db.delete(busPayloads)
          .where(lt(busPayloads.createdAt, sql`now() - interval '10 minutes'`))
          .catch((error) => onError(error, 'sweeping bus payloads'))
      }, 60_000)
    },
    async stop() {
      if (sweepTimer) clearInterval(sweepTimer)
      sweepTimer = null
      const current = client
      client = null
      listening = false
      await current?.end({ timeout: 2 })
    },
  }
}
