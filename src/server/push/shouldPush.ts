import type { SqlRunner } from '../db/sqlRunner'
import { DEFAULT_PREFERENCES, readManyPreferences, wantsPush } from '../notifications/preferences'

/** What decides whether a stored notification may go out as a Web Push to its user. */
export interface PushCandidate {
  userId: string
  type: string
  /** A publish with `"critical": true` ignores the user's preferences (docs/protocol.md §7). */
  critical: boolean
}

/**
 * Whether this notification may be pushed to this user: the one place Web Push consults the user's
 * preferences (`push:false` for its type, or for the default, stops it; `critical` overrides), read when the
 * job runs, so a preference changed since the publish is honoured.
 */
export async function shouldPush(runner: SqlRunner, candidate: PushCandidate): Promise<boolean> {
  if (candidate.critical) return true
  const stored = await readManyPreferences(runner, [candidate.userId])
  return wantsPush(stored.get(candidate.userId) ?? DEFAULT_PREFERENCES, candidate)
}
