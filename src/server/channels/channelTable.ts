import type { StreamTable } from '../streams/statements'

const publishedAt = (r: string) =>
  `to_char(${r}.published_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/**
 * A channel as a stream of the stream core: keyed by its canonical name, its seqs handed out by channels.last_seq
 * (a row created by the first publication), its items the channel_publications table. The wire JSON is the
 * contract's Publication (docs/protocol.md §4), with `from` only for publications a user sent.
 */
export const channelTable: StreamTable = {
  kind: 'channel',
  counter: { table: 'channels', key: 'name', keyType: 'text', create: true },
  items: { table: 'channel_publications', key: 'channel', time: 'published_at' },
  columns: [
    { name: 'data', type: 'jsonb' },
    { name: 'from_user_id', type: 'bigint' },
    { name: 'from_address', type: 'text' },
  ],
  wire: (r) =>
    `case when ${r}.from_user_id is null
      then json_build_object('channel', ${r}.channel, 'seq', ${r}.seq, 'data', ${r}.data,
        'publishedAt', ${publishedAt(r)})
      else json_build_object('channel', ${r}.channel, 'seq', ${r}.seq, 'data', ${r}.data,
        'publishedAt', ${publishedAt(r)},
        'from', json_build_object('userId', ${r}.from_user_id::text, 'address', ${r}.from_address)) end`,
}
