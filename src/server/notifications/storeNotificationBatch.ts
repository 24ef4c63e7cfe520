import { getAddress } from 'viem'
import type { Notification } from '../../shared/protocol'
import { announceAll } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { SqlRunner } from '../db/sqlRunner'
import { HeraldError } from '../errors'
import type { StreamStore } from '../streams/store'
import { inboxRow } from './inboxTable'

/** One notification of a batch: its recipient by exactly one of userId and address. */
export interface BatchEntry {
  userId?: string
  address?: string
  type: string
  title: string
  message: string
  data?: unknown
  critical?: boolean
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

/** `notification` null with `suppressed`: the user turned this type off in the app (docs/protocol.md §7). */
export type BatchResults = {
  userId: string
  notification: Notification | null
  suppressed?: 'preference'
}[]

type Appended = (Notification | null | false)[]

// Every row asks the inbox's keep rule, so the preferences are checked in the storing statement itself (no
// query of their own): a row it leaves out comes back false and takes no seq.
const appendRows = (entries: readonly BatchEntry[], userIds: readonly string[]) =>
  entries.map((entry, i) => [...inboxRow({ ...entry, userId: userIds[i]! }), true] as const)

function toResults(userIds: readonly string[], appended: Appended): BatchResults {
  const missing = [...new Set(userIds.filter((_, i) => appended[i] === null))]
  if (missing.length > 0) {
    const named = missing.slice(0, 10).join(', ') + (missing.length > 10 ? ', …' : '')
    throw new HeraldError(
      'NOT_FOUND',
      `${missing.length === 1 ? 'User' : 'Users'} ${named} ${missing.length === 1 ? 'does' : 'do'} not exist; nothing was stored.`,
    )
  }
  return userIds.map((userId, i) => {
    const notification = appended[i]
    return notification ? { userId, notification } : { userId, notification: null, suppressed: 'preference' }
  })
}

/**
 * Stores many notifications all or nothing: addresses that have never signed in get a user row, every row is
 * written by one statement (which checks each user's preferences), and one userId that does not exist
 * (NOT_FOUND, naming it) writes nothing at all. A batch of userIds without `within` is that one statement
 * alone; otherwise one transaction holds it. Each notification is announced to its user when it commits.
 * Answers the notifications and their userIds in input order. `within` runs last in the same transaction,
 * with the results (the caller's own record of the write, such as an idempotent request's answer).
 */
export async function storeNotificationBatch(
  deps: { runner: SqlRunner; inbox: StreamStore<Notification>; bus: Bus },
  entries: readonly BatchEntry[],
  within?: (runner: SqlRunner, results: BatchResults) => Promise<void>,
): Promise<BatchResults> {
  const { inbox, bus } = deps
  const channel = bus.notifyChannel
  const announce = async (results: BatchResults) => {
    if (!channel)
      await announceAll(
        bus,
        results.flatMap((r) => (r.notification ? [inbox.event(r.userId, r.notification)] : [])),
      )
    return results
  }
  const checksummed = entries.map((entry): string | null =>
    entry.address === undefined ? null : getAddress(entry.address),
  )
  const addresses = [...new Set(checksummed.filter((a): a is string => a !== null))]
  if (addresses.length === 0 && !within) {
    // Nothing to do but the rows: one statement that stores all or nothing is its own transaction, with no
    // BEGIN or COMMIT round trip and the users' rows locked only while it runs (a batch names many users, so
    // concurrent batches wait on one another's locks). When a user is missing it stores nothing, and the
    // transaction below names them (or stores, should the user have been created meanwhile).
    const userIds = entries.map((entry) => entry.userId!)
    const appended = await inbox.append(deps.runner, appendRows(entries, userIds), channel, true)
    if (!appended.includes(null)) return announce(toResults(userIds, appended))
  }
  const results = await deps.runner.transaction(async (tx) => {
    const ids = addresses.length > 0 ? await resolveAddresses(tx, addresses) : new Map<string, string>()
    const userIds = entries.map((entry, i) => entry.userId ?? ids.get(checksummed[i]!)!)
    const results = toResults(userIds, await inbox.append(tx, appendRows(entries, userIds), channel))
    await within?.(tx, results)
    return results
  })
  return announce(results)
}
