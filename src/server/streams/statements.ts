import { notifyEventsSql } from '../bus/payloadCodec'
import type { StreamKind } from '../bus/types'

/**
 * Where a kind of stream keeps its items: a counter row per stream holding `last_seq`, and an items table with
 * the stream's key and `seq`. The stream core writes every statement of the kind from this, so an inbox and a
 * channel append and read the same way.
 */
export interface StreamTable {
  /** The stream kind, as bus events name it. */
  kind: StreamKind
  /** The row per stream whose `last_seq` hands out seqs. `create`: a missing row is created on first append. */
  counter: { table: string; key: string; keyType: 'bigint' | 'text'; create: boolean }
  /** The items table: its stream-key column, and the column that takes the commit's time. */
  items: { table: string; key: string; time: string }
  /** The item's own columns, in the order an append gives them after the key. */
  columns: readonly { name: string; type: 'text' | 'jsonb' | 'bigint' | 'boolean' }[]
  /** SQL for an item's wire JSON, from a row of the items table called `alias`. */
  wire(alias: string): string
  /**
   * Optional rule for rows that ask for it (an append row may carry one element after its columns: `true`
   * asks): SQL over the input row's JSON array `e` saying whether it is stored. A row it leaves out takes no
   * seq and is answered as skipped. Checking it in the storing statement costs no round trip of its own (the
   * inbox: the user's preferences, which a publish otherwise read in a query before the append).
   */
  keep?(e: string): string
}

export interface AppendStatements {
  /** $1: JSON array of [key, ...columns] rows → (ord, item) per stored row. */
  append: string
  /** The same, NOTIFYing each item's bus event on channel $2. */
  appendAndNotify: string
  /** The same, for rows whose events may be too large to send inline. */
  appendAndNotifyLarge: string
}

export interface StreamStatements extends AppendStatements {
  /**
   * The same three, all or nothing: when one row's stream does not exist, the statement stores nothing (no
   * row comes back stored). One statement outside a transaction is then what a transaction around `append`
   * would be, without the round trips of BEGIN and COMMIT and without holding the counter rows' locks
   * across them.
   */
  whole: AppendStatements
  /** $1 key, $2 since, $3 limit → (item) oldest first. */
  since: string
  /**
   * Many reads since a seq in one statement: $1 a JSON array of [key, since, limit] → (ord, item), each read's
   * items oldest first, reads in input order (ord from 1); a read with nothing after its seq has no row.
   */
  sinceMany: string
  /** $1 key → (seq). */
  latest: string
  /** $1 a JSON array of keys → (key as text, seq) for those whose stream exists. */
  latestMany: string
}

// One statement stores any number of items, for any streams of the kind, with one round trip and (outside a
// transaction) one commit:
// - the streams' counter rows are locked in key order first, so two statements (or a transaction elsewhere)
//   never lock the same rows in opposite orders and deadlock;
// - each stream's last_seq grows by the number of its rows at once, and the rows take the numbers in input
//   order: seqs stay gap-free and follow commit order, however many rows one stream has in the statement;
// - rows for streams whose counter row does not exist (and is not created) are left out (the caller decides
//   what that means);
// - the time is cut to milliseconds, the precision the wire has, so the row and every copy of it agree;
// - `whole`: the counters are bumped only when every (kept) row's counter row is there (a table that creates
//   its counter rows needs no check).
export function streamStatements(table: StreamTable): StreamStatements {
  return {
    ...appendStatements(table, false),
    whole: appendStatements(table, true),
    since: `select ${table.wire('r')}::text as item from ${table.items.table} r
where r.${table.items.key} = $1 and r.seq > $2 order by r.seq limit $3`,
    sinceMany: `select q.ord::int4 as ord, x.item
from jsonb_array_elements(($1::text)::jsonb) with ordinality as q(e, ord)
cross join lateral (
  select ${table.wire('r')}::text as item, r.seq from ${table.items.table} r
  where r.${table.items.key} = (q.e->>0)::${table.counter.keyType} and r.seq > (q.e->>1)::bigint
  order by r.seq limit (q.e->>2)::int
) x
order by q.ord, x.seq`,
    latest: `select last_seq as seq from ${table.counter.table} where ${table.counter.key} = $1`,
    latestMany: `select ${table.counter.key}::text as key, last_seq as seq from ${table.counter.table}
where ${table.counter.key} in (select (k #>> '{}')::${table.counter.keyType} from jsonb_array_elements(($1::text)::jsonb) as k)`,
  }
}

function appendStatements(table: StreamTable, whole: boolean): AppendStatements {
  const { counter, items } = table
  const columns = table.columns.map((column, i) => {
    const value =
      column.type === 'jsonb'
        ? `nullif(e->${i + 1}, 'null'::jsonb)`
        : column.type === 'bigint' || column.type === 'boolean'
          ? `(e->>${i + 1})::${column.type}`
          : `e->>${i + 1}`
    return { name: column.name, value }
  })
  const names = columns.map((c) => c.name).join(', ')
  // With a keep rule: `kept` per input row; the rows it leaves out are answered with a null item.
  const kept = table.keep
    ? `, not coalesce((e->>${columns.length + 1})::boolean, false) or (${table.keep('e')}) as kept`
    : ''
  const onlyKept = (alias: string) => (table.keep ? ` where ${alias}kept` : '')
  const skipped = (nulls: string) =>
    table.keep ? `\nunion all select ord, ${nulls} from input where not kept` : ''
  const prefixed = (alias: string) => columns.map((c) => `${alias}.${c.name}`).join(', ')
  const allThere = '\n    and not exists (select 1 from counts k where k.key not in (select key from locked))'
  const bump = counter.create
    ? `
upserted as (
  insert into ${counter.table} (${counter.key}, last_seq)
  select key, n from counts order by key
  on conflict (${counter.key}) do update set last_seq = ${counter.table}.last_seq + excluded.last_seq
  returning ${counter.key} as key, last_seq
),
bumped as (select u.key, u.last_seq - c.n as base from upserted u join counts c on c.key = u.key)`
    : `
locked as materialized (
  select ${counter.key} as key from ${counter.table}
  where ${counter.key} in (select key from input) order by ${counter.key} for update
),
bumped as (
  update ${counter.table} u set last_seq = u.last_seq + c.n
  from counts c join locked l on l.key = c.key
  where u.${counter.key} = c.key${whole ? allThere : ''}
  returning u.${counter.key} as key, u.last_seq - c.n as base
)`
  const store = `
with input as materialized (
  select (e->>0)::${counter.keyType} as key, ${columns.map((c) => `${c.value} as ${c.name}`).join(', ')},
         ord::int4 as ord${kept}
  from jsonb_array_elements(($1::text)::jsonb) with ordinality as a(e, ord)
),
counts as (select key, count(*) as n from input${onlyKept('')} group by key),${bump},
numbered as (
  select i.ord, i.key, b.base + row_number() over (partition by i.key order by i.ord) as seq, ${prefixed('i')}
  from input i join bumped b on b.key = i.key${onlyKept('i.')}
),
ins as (
  insert into ${items.table} (${items.key}, seq, ${names}, ${items.time})
  select key, seq, ${names}, date_trunc('milliseconds', now()) from numbered
  returning *
),
stored as (
  select n.ord, n.key, ins.seq, ${table.wire('ins')}::text as item
  from ins join numbered n on n.key = ins.${items.key} and n.seq = ins.seq
)`
  // Each row's bus event, as the in-process and Redis buses would carry it (BusEvent 'item').
  const events = `,
events as (
  select ord, key::text as key, seq, item,
    '{"kind":"item","stream":"${table.kind}","key":' || to_json(key::text)::text || ',"item":' || item || '}' as event
  from stored
)`
  return {
    append: table.keep
      ? `${store}
(select ord, item from stored order by key, seq)${skipped('null::text')}`
      : `${store}
select ord, item from stored order by key, seq`,
    appendAndNotify: `${store}${events}${notifyEventsSql('$2', false)}${skipped('null::text, null::boolean')}`,
    appendAndNotifyLarge: `${store}${events}${notifyEventsSql('$2', true)}${skipped('null::text, null::boolean')}`,
  }
}
