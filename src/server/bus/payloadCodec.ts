import type { SqlRunner } from '../db/sqlRunner'
import type { BusEvent } from './types'

// A bus event as a PostgreSQL NOTIFY payload. NOTIFY refuses payloads of 8000 bytes or more, so an event
// larger than MAX_INLINE_BYTES is stored in bus_payloads and sent as `{"ref": id}`; a listener loads it by id.
// This module is the one home of that scheme, for both ways an event is announced: from TypeScript inside a
// transaction (notifyIn), and by a statement that stores stream items and announces them itself
// (notifyEventsSql).

/** Largest payload sent inline; the margin below 8000 is for the envelope. */
export const MAX_INLINE_BYTES = 7000

const INSERT_PAYLOAD =
  'insert into bus_payloads (payload) values (($1::text)::jsonb) returning id::text as id'
const NOTIFY = 'select pg_notify($1, $2)'

/** Announces inside the runner's transaction: NOTIFY is delivered at commit, in commit order, never on rollback. */
export async function notifyIn(runner: SqlRunner, channel: string, event: BusEvent): Promise<void> {
  let payload = JSON.stringify(event)
  if (Buffer.byteLength(payload) > MAX_INLINE_BYTES) {
    const [row] = await runner.query<{ id: string }>(INSERT_PAYLOAD, [payload])
    payload = `{"ref":${row!.id}}`
  }
  await runner.query(NOTIFY, [channel, payload])
}

/** The event a NOTIFY payload carries, loading it by id when it travelled by reference. */
export async function decodePayload(
  payload: string,
  loadRef: (id: number) => Promise<unknown | undefined>,
): Promise<BusEvent> {
  const message = JSON.parse(payload) as BusEvent | { ref: number }
  if (!('ref' in message)) return message
  const event = await loadRef(message.ref)
  if (event === undefined) throw new Error(`bus payload ${message.ref} is gone`)
  return event as BusEvent
}

// Whether an item's event could pass the inline limit, decided from its JSON without measuring bytes: a
// character takes at most 3 bytes of UTF-8 and PostgreSQL's JSON adds at most one space per ASCII character
// (after ':' and ','), so 1,500 characters stay far below 7,000 bytes with the envelope. Numbers are the
// exception: jsonb prints 1e300 in full, so any exponent (or anything that looks like one) counts as large.
const SMALL_ITEM_CHARS = 1500
const EXPONENT = /\d[eE][+-]?\d/

/** Whether an item given to a statement as this JSON could make an event too large to send inline. */
export function mayExceedInline(json: string): boolean {
  return json.length > SMALL_ITEM_CHARS || EXPONENT.test(json)
}

/**
 * The end of a statement that announces the stream items it stored. It reads a CTE `events(ord, key, seq,
 * item, event)` (`event` the BusEvent as JSON text) and NOTIFYs each event on the channel in parameter
 * `channelParam`, in (key, seq) order (the sorted subquery is not flattened into the outer query), answering
 * `ord` and `item` per row. With `large`, events over MAX_INLINE_BYTES go into bus_payloads and by reference;
 * writing that CTE costs every statement time, so callers use it only when an item may be that large.
 */
export function notifyEventsSql(channelParam: string, large: boolean): string {
  if (!large)
    return `
select ord, item, pg_notify(${channelParam}, event) is null as notified
from (select ord, item, event from events order by key, seq) s`
  return `,
big as (
  insert into bus_payloads (payload)
  select event::jsonb from events where octet_length(event) > ${MAX_INLINE_BYTES}
  returning id, payload->>'key' as key, (payload->'item'->>'seq')::bigint as seq
)
select ord, item, pg_notify(${channelParam}, payload) is null as notified
from (
  select e.ord, e.item, coalesce('{"ref":' || b.id || '}', e.event) as payload
  from events e left join big b on b.key = e.key and b.seq = e.seq
  order by e.key, e.seq
) s`
}
