import type { Notification } from '../../shared/protocol'
import { MAX_INLINE_BYTES } from '../bus/createPostgresBus'
import type { NotificationParams } from './insertNotification'
import type { SqlRunner } from './sqlRunner'

// One statement stores any number of notifications, for any users, with one round trip and (outside a
// transaction) one commit:
// - users' rows are locked in id order first, so two statements (or a transaction elsewhere) never lock the
//   same users in opposite orders and deadlock;
// - each user's last_seq grows by the number of its rows at once, and the rows take the numbers in input
//   order: seqs stay gap-free and follow commit order, however many rows one user has in the batch;
// - rows for users that do not exist are left out (the caller decides what that means);
// - created_at is cut to milliseconds, the precision the wire has, so the row and every copy of it agree.
const STORE = `
with input as materialized (
  select (e->>0)::bigint as user_id, e->>1 as type, e->>2 as title, e->>3 as message,
         nullif(e->4, 'null'::jsonb) as data, ord::int4 as ord
  from jsonb_array_elements(($1::text)::jsonb) with ordinality as a(e, ord)
),
locked as materialized (
  select id from users where id in (select user_id from input) order by id for update
),
counts as (select user_id, count(*) as n from input group by user_id),
bumped as (
  update users u set last_seq = u.last_seq + c.n
  from counts c join locked l on l.id = c.user_id
  where u.id = c.user_id
  returning u.id, u.last_seq - c.n as base
),
numbered as (
  select i.ord, i.user_id, b.base + row_number() over (partition by i.user_id order by i.ord) as seq,
         i.type, i.title, i.message, i.data
  from input i join bumped b on b.id = i.user_id
),
ins as (
  insert into notifications (user_id, seq, type, title, message, data, created_at)
  select user_id, seq, type, title, message, data, date_trunc('milliseconds', now()) from numbered
  returning id, user_id, seq, type, title, message, data, created_at
),
stored as (
  select n.ord, ins.user_id, ins.seq,
    json_build_object('id', ins.id::text, 'seq', ins.seq, 'type', ins.type, 'title', ins.title,
      'message', ins.message, 'data', ins.data,
      'createdAt', to_char(ins.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'read', false)::text as notification
  from ins join numbered n on n.user_id = ins.user_id and n.seq = ins.seq
)`

const RETURN_ONLY = `${STORE}
select ord, notification from stored order by user_id, seq`

// The bus event of each row is NOTIFYed by the statement itself, so it goes out exactly when the rows commit.
// The NOTIFYs are issued in (user, seq) order: the sorted subquery is not flattened into the outer query.
const EVENTS = `
events as (
  select ord, user_id, seq, notification,
    '{"kind":"notification","userId":"' || user_id || '","notification":' || notification || '}' as event
  from stored
)`
const RETURN_AND_NOTIFY = `${STORE},${EVENTS}
select ord, notification, pg_notify($2, event) is null as notified
from (select ord, notification, event from events order by user_id, seq) s`
// Events too large for a NOTIFY are stored in bus_payloads and sent by reference, as the bus does itself.
// Writing that CTE costs every statement time, so it is used only when an item could be that large.
const RETURN_AND_NOTIFY_LARGE = `${STORE},${EVENTS},
big as (
  insert into bus_payloads (payload)
  select event::jsonb from events where octet_length(event) > ${MAX_INLINE_BYTES}
  returning id, (payload->>'userId')::bigint as user_id, (payload->'notification'->>'seq')::bigint as seq
)
select ord, notification, pg_notify($2, payload) is null as notified
from (
  select e.ord, e.notification, coalesce('{"ref":' || b.id || '}', e.event) as payload
  from events e left join big b on b.user_id = e.user_id and b.seq = e.seq
  order by e.user_id, e.seq
) s`
// Whether an item's event could pass the inline limit, decided from its JSON without measuring bytes: a
// character takes at most 3 bytes of UTF-8 and PostgreSQL's JSON adds at most one space per ASCII character
// (after ':' and ','), so 1,500 characters stay far below 7,000 bytes with the envelope. Numbers are the
// exception: jsonb prints 1e300 in full, so any exponent (or anything that looks like one) counts as large.
const SMALL_ITEM_CHARS = 1500
const EXPONENT = /\d[eE][+-]?\d/

type Row = { ord: number; notification: string }

/**
 * Stores the notifications in one statement and answers them in input order; null where the user does not
 * exist. With `notifyChannel` (the PostgreSQL bus's channel) the statement also announces them; otherwise
 * the caller publishes after the commit.
 */
export async function insertNotifications(
  runner: SqlRunner,
  items: readonly NotificationParams[],
  notifyChannel: string | null,
): Promise<(Notification | null)[]> {
  let mayBeLarge = false
  const parts = items.map((item) => {
    const part = JSON.stringify([item.userId, item.type, item.title, item.message, item.data ?? null])
    if (part.length > SMALL_ITEM_CHARS || EXPONENT.test(part)) mayBeLarge = true
    return part
  })
  const input = `[${parts.join(',')}]`
  const rows = !notifyChannel
    ? await runner.query<Row>(RETURN_ONLY, [input])
    : await runner.query<Row>(mayBeLarge ? RETURN_AND_NOTIFY_LARGE : RETURN_AND_NOTIFY, [
        input,
        notifyChannel,
      ])
  const out: (Notification | null)[] = new Array(items.length).fill(null)
  for (const row of rows) out[row.ord - 1] = JSON.parse(row.notification) as Notification
  return out
}
