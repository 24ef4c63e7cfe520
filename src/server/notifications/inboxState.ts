import type { InboxCounts, Notification } from '../../shared/protocol'
import { type EventTransaction, transact } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { Database } from '../db/openDatabase'
import { type SqlRunner, sqlRunner } from '../db/sqlRunner'
import { HeraldError } from '../errors'
import { inboxTable } from './inboxTable'

// Every change of read, seen or archived state runs in one transaction that first locks the user's row (the
// same row the stream core locks to hand out seqs), changes the rows, bumps the inbox's version when something
// changed, and counts them. So a change and a publish for the same user never interleave: the counts include exactly the
// notifications up to the `seq` they name, and two changes get their versions in commit order. The message
// that carries them goes out with the commit.

const LOCK = `select last_seq::float8 as seq, inbox_version::float8 as version from users where id = $1
  for update`
// Only a change bumps the version: a request repeated (the same read twice) answers the same.
const BUMP = `update users set inbox_version = inbox_version + 1 where id = $1
  returning inbox_version::float8 as version`

// Two partial indexes (notifications_user_unread_idx, notifications_user_unseen_idx) answer these.
const COUNTS = `select
  (select count(*) from notifications where user_id = $1 and read_at is null and archived_at is null)::int
    as "unreadCount",
  (select count(*) from notifications where user_id = $1 and seen_at is null and archived_at is null)::int
    as "unseenCount"`

const STATE = `select last_seq::float8 as seq, inbox_version::float8 as version from users where id = $1`

type Locked = { seq: number; version: number }

async function lock(runner: SqlRunner, userId: string): Promise<Locked> {
  const [row] = await runner.query<Locked>(LOCK, [userId])
  if (!row) throw new HeraldError('NOT_FOUND', `User ${userId} does not exist.`)
  return { seq: Number(row.seq), version: Number(row.version) }
}

async function counts(
  runner: SqlRunner,
  userId: string,
  locked: Locked,
  changed: boolean,
): Promise<InboxCounts> {
  let { version } = locked
  if (changed) {
    const [bumped] = await runner.query<{ version: number }>(BUMP, [userId])
    version = Number(bumped!.version)
  }
  const [row] = await runner.query<{ unreadCount: number; unseenCount: number }>(COUNTS, [userId])
  return {
    unreadCount: Number(row!.unreadCount),
    unseenCount: Number(row!.unseenCount),
    seq: locked.seq,
    version,
  }
}

/**
 * The user's counts as they stand, with the seq and version they stand at (`GET .../unread-count`). One
 * snapshot: in a transaction, so a publish or change committing meanwhile is either wholly in or wholly out.
 */
export function readInboxCounts(db: Database, userId: string): Promise<InboxCounts> {
  return sqlRunner(db).transaction(async (runner) => {
    // Repeatable read would be the other way; a share lock on the row is simpler and waits at most for one
    // change to commit.
    const [row] = await runner.query<Locked>(`${STATE} for share`, [userId])
    const locked = { seq: Number(row?.seq ?? 0), version: Number(row?.version ?? 0) }
    return counts(runner, userId, locked, false)
  })
}

/** The counts as a list answers them: no lock, one statement's snapshot. */
export async function countInbox(
  runner: SqlRunner,
  userId: string,
): Promise<{ unreadCount: number; unseenCount: number }> {
  const [row] = await runner.query<{ unreadCount: number; unseenCount: number }>(COUNTS, [userId])
  return { unreadCount: Number(row!.unreadCount), unseenCount: Number(row!.unseenCount) }
}

function inboxChange<T>(
  db: Database,
  bus: Bus,
  userId: string,
  work: (transaction: EventTransaction, locked: Locked) => Promise<T>,
): Promise<T> {
  return transact(db, bus, async (transaction) => work(transaction, await lock(transaction.runner, userId)))
}

const ONE = (set: string) => `with old as (
    select id, read_at is null as was_unread, seen_at is null as was_unseen, archived_at is null as was_active
    from notifications where id = $2 and user_id = $1 for update
  ),
  changed as (
    update notifications n set ${set} from old where n.id = old.id
    returning n.*, old.was_unread, old.was_unseen, old.was_active
  )
  select ${inboxTable.wire('changed')}::text as item, was_unread, was_unseen, was_active from changed`

const READ_ONE = ONE('read_at = coalesce(n.read_at, now()), seen_at = coalesce(n.seen_at, now())')
const ARCHIVE_ONE = ONE('archived_at = case when $3 then coalesce(n.archived_at, now()) else null end')

type OneRow = { item: string; was_unread: boolean; was_unseen: boolean; was_active: boolean }

const notFound = (id: string) => new HeraldError('NOT_FOUND', `Notification ${id} not found.`)

/**
 * Marks one of the user's notifications read (and seen). Someone else's id and a missing id answer the same
 * 404, so ids cannot be probed. A change is pushed as `read_state` to every connection of the user.
 */
export function markRead(
  db: Database,
  bus: Bus,
  params: { userId: string; id: string },
): Promise<{ notification: Notification } & InboxCounts> {
  return inboxChange(db, bus, params.userId, async (transaction, locked) => {
    const [row] = await transaction.runner.query<OneRow>(READ_ONE, [params.userId, params.id])
    if (!row) throw notFound(params.id)
    const changed = row.was_unread || row.was_unseen
    const now = await counts(transaction.runner, params.userId, locked, changed)
    if (changed)
      await transaction.publish({
        kind: 'user',
        userId: params.userId,
        message: { type: 'read_state', ids: [params.id], ...now },
      })
    return { notification: JSON.parse(row.item) as Notification, ...now }
  })
}

/** Archives (or unarchives) one of the user's notifications; pushed as `inbox_state` with `archived`. */
export function setArchived(
  db: Database,
  bus: Bus,
  params: { userId: string; id: string; archived: boolean },
): Promise<{ notification: Notification } & InboxCounts> {
  return inboxChange(db, bus, params.userId, async (transaction, locked) => {
    const [row] = await transaction.runner.query<OneRow>(ARCHIVE_ONE, [
      params.userId,
      params.id,
      params.archived,
    ])
    if (!row) throw notFound(params.id)
    const changed = row.was_active === params.archived
    const now = await counts(transaction.runner, params.userId, locked, changed)
    if (changed)
      await transaction.publish({
        kind: 'user',
        userId: params.userId,
        message: { type: 'inbox_state', ids: [params.id], archived: params.archived, ...now },
      })
    return { notification: JSON.parse(row.item) as Notification, ...now }
  })
}

// Archived notifications are included: "all" means all, and one unarchived later comes back read.
const READ_ALL = `update notifications set read_at = now(), seen_at = coalesce(seen_at, now())
  where user_id = $1 and seq <= $2 and read_at is null`
const SEEN_ALL = `update notifications set seen_at = now()
  where user_id = $1 and seq <= $2 and seen_at is null`

/**
 * Every notification with `seq ≤ upToSeq` (default, and at most: the latest seq when the change locks the
 * inbox) becomes read, or seen. A larger `upToSeq` is cut to the latest, so the message never claims a
 * notification that was stored after it.
 */
export function markAll(
  db: Database,
  bus: Bus,
  params: { userId: string; upToSeq?: number; state: 'read' | 'seen' },
): Promise<{ updated: number; upToSeq: number } & InboxCounts> {
  return inboxChange(db, bus, params.userId, async (transaction, locked) => {
    const upToSeq = Math.min(params.upToSeq ?? locked.seq, locked.seq)
    const [row] = await transaction.runner.query<{ n: number }>(
      `with changed as (${params.state === 'read' ? READ_ALL : SEEN_ALL} returning 1)
       select count(*)::int as n from changed`,
      [params.userId, upToSeq],
    )
    const updated = Number(row?.n ?? 0)
    const now = await counts(transaction.runner, params.userId, locked, updated > 0)
    if (updated > 0)
      await transaction.publish({
        kind: 'user',
        userId: params.userId,
        message:
          params.state === 'read'
            ? { type: 'read_state', ids: 'all', upToSeq, ...now }
            : { type: 'inbox_state', ids: 'all', upToSeq, seen: true, ...now },
      })
    return { updated, upToSeq, ...now }
  })
}
