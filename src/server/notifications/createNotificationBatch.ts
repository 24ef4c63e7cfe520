import { getAddress } from 'viem'
import type { Notification } from '../../shared/protocol'
import { statementChannel } from '../bus/createPostgresBus'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { HeraldError } from '../errors'
import { insertNotifications } from './insertNotifications'
import { publishStored } from './publishStored'
import { type SqlRunner, sqlRunner } from './sqlRunner'

/** One notification of a batch: its recipient by exactly one of userId and address. */
export interface BatchEntry {
  userId?: string
  address?: string
  type: string
  title: string
  message: string
  data?: unknown
}

// DO NOTHING locks no existing row, so resolving addresses cannot deadlock with statements that lock users in
// id order; the second statement sees rows another transaction committed meanwhile (a fresh snapshot).
const INSERT_ADDRESSES = `insert into users (address)
  select a from jsonb_array_elements_text(($1::text)::jsonb) as a order by a
  on conflict (address) do nothing`
const SELECT_ADDRESSES = `select id::text as id, address from users
  where address in (select jsonb_array_elements_text(($1::text)::jsonb))`

async function resolveAddresses(runner: SqlRunner, addresses: string[]): Promise<Map<string, string>> {
  const param = JSON.stringify(addresses)
  await runner.query(INSERT_ADDRESSES, [param])
  const rows = await runner.query<{ id: string; address: string }>(SELECT_ADDRESSES, [param])
  return new Map(rows.map((row) => [row.address, row.id]))
}

/**
 * Stores many notifications all or nothing, in one transaction: addresses that have never signed in get a
 * user row, every row is written by one statement, and one userId that does not exist (NOT_FOUND, naming
 * it) writes nothing at all. Each notification is announced to its user when the transaction commits.
 * Answers the notifications and their userIds in input order.
 */
export async function createNotificationBatch(
  db: Database,
  bus: Bus,
  entries: readonly BatchEntry[],
): Promise<{ userId: string; notification: Notification }[]> {
  const channel = statementChannel(bus)
  const checksummed = entries.map((entry): string | null =>
    entry.address === undefined ? null : getAddress(entry.address),
  )
  const addresses = [...new Set(checksummed.filter((a): a is string => a !== null))]
  const results = await sqlRunner(db).transaction(async (tx) => {
    const ids = addresses.length > 0 ? await resolveAddresses(tx, addresses) : new Map<string, string>()
    const items = entries.map((entry, i) => ({
      userId: entry.userId ?? ids.get(checksummed[i]!)!,
      type: entry.type,
      title: entry.title,
      message: entry.message,
      data: entry.data,
    }))
    const stored = await insertNotifications(tx, items, channel)
    const missing = [...new Set(items.filter((_, i) => stored[i] === null).map((item) => item.userId))]
    if (missing.length > 0) {
      const named = missing.slice(0, 10).join(', ') + (missing.length > 10 ? ', …' : '')
      throw new HeraldError(
        'NOT_FOUND',
        `${missing.length === 1 ? 'User' : 'Users'} ${named} ${missing.length === 1 ? 'does' : 'do'} not exist; nothing was stored.`,
      )
    }
    return items.map((item, i) => ({ userId: item.userId, notification: stored[i]! }))
  })
  if (!channel) await publishStored(bus, results)
  return results
}
