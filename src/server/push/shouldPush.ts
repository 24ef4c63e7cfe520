import type { SqlRunner } from '../db/sqlRunner'

/** What decides whether a stored notification may go out as a Web Push to its user. */
export interface PushCandidate {
  userId: string
  type: string
  /** A publish with `"critical": true` ignores the user's preferences (docs/protocol.md §7). */
  critical: boolean
}

/**
 * Whether this notification may be pushed to this user: the one place the user's preferences are consulted
 * (`push:false` for its type, unless critical). Until per-type preferences exist, every type may be pushed.
 */
export async function shouldPush(_runner: SqlRunner, candidate: PushCandidate): Promise<boolean> {
  if (candidate.critical) return true
  return true
}
