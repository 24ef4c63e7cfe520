import type { ChannelMember, Publication } from '../../shared/protocol'
import type { EventTransaction } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { sqlRunner } from '../db/sqlRunner'
import type { StreamSource } from '../streams/delivery'
import { createStreamStore } from '../streams/store'
import { createStreamWriter } from '../streams/writer'
import { channelOrThrow } from './channelName'
import { channelTable } from './channelTable'

export interface ChannelHistoryPage {
  publications: Publication[]
  /** The `before` of the next, older page; null when none remain. */
  nextBefore: number | null
}

export interface ChannelStore {
  /**
   * Stores a publication with the channel's next seq and pushes it to its subscribers on every instance after
   * its commit. Concurrent publications share statements and commits (group commit). `from` is the user who
   * sent it (absent for the admin API, the server library and Herald's own). A name that breaks the grammar
   * throws INVALID_CHANNEL; address channels are stored under the checksummed name.
   */
  publish(channel: string, data: unknown, from?: ChannelMember | null): Promise<Publication>
  /**
   * Inside the caller's transaction (the transfer watcher's block, say), through the same statement as every
   * other publication; pushed when the transaction commits, never if it rolls back.
   */
  publishIn(transaction: EventTransaction, channel: string, data: unknown): Promise<Publication>
  /** Newest first, `limit` of them with seq below `before` (all when absent). */
  history(channel: string, page: { before?: number; limit: number }): Promise<ChannelHistoryPage>
  /** A channel's publications as the stream core reads them (replay, gap filling). */
  readonly source: StreamSource<Publication>
}

const row = (channel: string, data: unknown, from: ChannelMember | null | undefined) =>
  [channel, data ?? null, from?.userId ?? null, from?.address ?? null] as const

/** Channel publications: each channel is a stream of the stream core (src/server/streams). */
export function createChannelStore(params: { db: Database; bus: Bus }): ChannelStore {
  const runner = sqlRunner(params.db)
  const store = createStreamStore<Publication>(runner, channelTable)
  // Channels create their counter row on first append, so no append is ever "missing" one.
  const writer = createStreamWriter({
    runner,
    store,
    bus: params.bus,
    missing: (key) => new Error(`channel ${key} has no counter row`),
  })
  const history = `select ${channelTable.wire('r')}::text as item from channel_publications r
where r.channel = $1 and r.seq < $2 order by r.seq desc limit $3`
  return {
    publish: (channel, data, from) => writer.append(row(channelOrThrow(channel).name, data, from)),
    async publishIn(transaction, channel, data) {
      const name = channelOrThrow(channel).name
      const [stored] = await store.append(
        transaction.runner,
        [row(name, data, null)],
        transaction.notifyChannel,
      )
      if (!stored) throw new Error(`channel ${name} has no counter row`)
      if (!transaction.notifyChannel) await transaction.publish(store.event(name, stored))
      return stored
    },
    async history(channel, page) {
      const rows = await runner.query<{ item: string }>(history, [
        channelOrThrow(channel).name,
        page.before ?? Number.MAX_SAFE_INTEGER,
        page.limit + 1,
      ])
      const publications = rows.slice(0, page.limit).map((r) => JSON.parse(r.item) as Publication)
      return {
        publications,
        nextBefore: rows.length > page.limit ? publications[publications.length - 1]!.seq : null,
      }
    },
    source: store.source,
  }
}
