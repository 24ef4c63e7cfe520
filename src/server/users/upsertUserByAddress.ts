import { getAddress } from 'viem'
import type { Queryable } from '../db/openDatabase'
import { type UserRow, users } from '../db/schema'

/** The user row for an address, created on first sight (a sign-in or a notification sent ahead of it). */
export async function upsertUserByAddress(db: Queryable, address: string): Promise<UserRow> {
  const checksummed = getAddress(address)
  const [row] = await db
    .insert(users)
    .values({ address: checksummed })
    // A no-op update so RETURNING yields the existing row too, in one round trip.
    .onConflictDoUpdate({ target: users.address, set: { address: checksummed } })
    .returning()
  return row!
}
