import { randomBytes } from 'node:crypto'
import { lt } from 'drizzle-orm'
import type { Queryable } from '../db/openDatabase'
import { siweNonces } from '../db/schema'

/** 128 random bits as 32 hex characters: letters and digits only, as EIP-4361 asks. */
export async function createNonce(
  db: Queryable,
  params: { ttlSeconds: number; now?: Date },
): Promise<{ nonce: string; expiresAt: Date }> {
  const now = params.now ?? new Date()
  const nonce = randomBytes(16).toString('hex')
  const expiresAt = new Date(now.getTime() + params.ttlSeconds * 1000)
  await db.insert(siweNonces).values({ nonce, expiresAt })
  // Expired nonces are swept as new ones are issued, so the table stays the size of the sign-ins in flight.
  await db.delete(siweNonces).where(lt(siweNonces.expiresAt, now))
  return { nonce, expiresAt }
}
