import { eq, lt, sql } from 'drizzle-orm'
import postgres from 'postgres'
import { CONNECT_TIMEOUT_SECONDS, type Database, RECONNECT_BACKOFF_MAX_SECONDS } from '../db/openDatabase'
import { busPayloads } from '../db/schema'
import { sqlRunner } from '../db/sqlRunner'
import type { ErrorReporter } from '../errors'
import { dispatch } from './dispatch'
import { decodePayload, notifyIn } from './payloadCodec'
import { reportFailures } from './reportFailures'
import type { Bus, BusListener } from './types'

const CHANNEL = 'herald_bus'

/**
 * Many instances on one PostgreSQL: every event is a NOTIFY on one channel that every instance (this one
 * included) LISTENs to, so all of them deliver it the same way. It can take part in transactions
 * (`notifyChannel`): an event NOTIFYed inside one goes out at its commit. Payloads too large for NOTIFY travel
 * by id (payloadCodec). The listening connection reconnects by itself (postgres-js re-LISTENs); after a
 * reconnect the listeners are asked to resync from the database, since NOTIFYs sent while it was down are gone.
 */
export function createPostgresBus(params: { url: string; db: Database; onError: ErrorReporter }): Bus {
  const { db, onError } = params
  const runner = sqlRunner(db)
  const listeners = new Set<BusListener>()
  let client: postgres.Sql | null = null
  let listening = false
  let sweepTimer: Timer | null = null

  const loadRef = async (id: number) =>
    (await db.select().from(busPayloads).where(eq(busPayloads.id, id)))[0]?.payload
  const receive = async (payload: string) => {
    try {
      dispatch(listeners, await decodePayload(payload, loadRef), onError)
    } catch (error) {
      onError(error, 'receiving a bus message')
    }
  }
  const send = (event: Parameters<Bus['announce']>[0]) =>
    runner.transaction((tx) => notifyIn(tx, CHANNEL, event))
  return {
    kind: 'postgres',
    notifyChannel: CHANNEL,
    announce: reportFailures(send, onError),
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
