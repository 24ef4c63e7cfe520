import { eq } from 'drizzle-orm'
import type { Preferences, PreferencesBody } from '../../shared/protocol'
import { transact } from '../bus/transact'
import type { Bus } from '../bus/types'
import type { Database, Queryable } from '../db/openDatabase'
import { notificationPreferences } from '../db/schema'
import type { SqlRunner } from '../db/sqlRunner'
import { HeraldError } from '../errors'

/** What a user without stored preferences gets: everything on. */
export const DEFAULT_PREFERENCES: Preferences = { default: { inApp: true, push: true }, types: {} }

/** Most types one user's preferences may name (PUT answers 422 beyond). */
export const MAX_PREFERENCE_TYPES = 200

/** What one notification's sender says about it: its type, and whether it overrides preferences. */
export interface Deliverable {
  type: string
  critical?: boolean
}

/** The in-app and push choice for one type: its own entry, else the default. */
export function channelsFor(preferences: Preferences, type: string): { inApp: boolean; push: boolean } {
  return Object.hasOwn(preferences.types, type) ? preferences.types[type]! : preferences.default
}

/** Whether a stored notification may go out as a Web Push (docs/protocol.md §7); `critical` always may. */
export const wantsPush = (preferences: Preferences, notification: Deliverable): boolean =>
  notification.critical === true || channelsFor(preferences, notification.type).push

/**
 * A user's preferences (defaults when none are stored), for Web Push delivery
 * (`wantsPush(await readPreferences(db, userId), notification)`). The in-app check is not made here: every
 * storing path asks the inbox table's `keep` rule (inboxTable.ts), the same choice in SQL, in its statement.
 */
export async function readPreferences(db: Queryable, userId: string): Promise<Preferences> {
  const [row] = await db
    .select({ preferences: notificationPreferences.preferences })
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, Number(userId)))
  return (row?.preferences as Preferences | undefined) ?? DEFAULT_PREFERENCES
}

const MANY = `select user_id::text as "userId", preferences from notification_preferences
  where user_id in (select (jsonb_array_elements_text(($1::text)::jsonb))::bigint)`

/** Many users' preferences in one statement (Web Push's check); users without a row are absent. */
export async function readManyPreferences(
  runner: SqlRunner,
  userIds: readonly string[],
): Promise<Map<string, Preferences>> {
  const unique = [...new Set(userIds)].filter((id) => /^[0-9]{1,15}$/.test(id))
  if (unique.length === 0) return new Map()
  const rows = await runner.query<{ userId: string; preferences: Preferences | string }>(MANY, [
    JSON.stringify(unique),
  ])
  // PGlite and postgres-js both parse jsonb; a string would be a driver that does not.
  return new Map(
    rows.map((r) => [
      r.userId,
      typeof r.preferences === 'string' ? (JSON.parse(r.preferences) as Preferences) : r.preferences,
    ]),
  )
}

/**
 * The stored shape of a PUT body: every field filled (a type's missing field takes the default's; a missing
 * default is all on), and types equal to the default kept, so the panel shows what the user chose.
 */
export function normalizePreferences(body: PreferencesBody): Preferences {
  const defaults = {
    inApp: body.default?.inApp ?? true,
    push: body.default?.push ?? true,
  }
  const entries = Object.entries(body.types ?? {})
  if (entries.length > MAX_PREFERENCE_TYPES)
    throw new HeraldError(
      'INVALID_INPUT',
      `body.types: at most ${MAX_PREFERENCE_TYPES} types, got ${entries.length}.`,
    )
  const types: Preferences['types'] = {}
  for (const [type, choice] of entries) {
    if (type.length < 1 || type.length > 100)
      throw new HeraldError('INVALID_INPUT', 'body.types: a type name has 1 to 100 characters.')
    types[type] = { inApp: choice.inApp ?? defaults.inApp, push: choice.push ?? defaults.push }
  }
  return { default: defaults, types }
}

/**
 * Replaces the user's preferences and pushes them to every connection of the user, on every instance, with
 * the commit (in commit order on the PostgreSQL bus, so the last PUT is the last message).
 */
export function writePreferences(
  db: Database,
  bus: Bus,
  params: { userId: string; body: PreferencesBody },
): Promise<Preferences> {
  const preferences = normalizePreferences(params.body)
  return transact(db, bus, async (transaction) => {
    await transaction.tx
      .insert(notificationPreferences)
      .values({ userId: Number(params.userId), preferences })
      .onConflictDoUpdate({
        target: notificationPreferences.userId,
        set: { preferences, updatedAt: new Date() },
      })
    await transaction.publish({
      kind: 'user',
      userId: params.userId,
      message: { type: 'preferences', preferences },
    })
    return preferences
  })
}
