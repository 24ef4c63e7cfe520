import { randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { getAddress } from 'viem'
import { createTokenService } from '../../src/server/auth/createTokenService'
import type { Database } from '../../src/server/db/openDatabase'
import { notifications, sessions, users } from '../../src/server/db/schema'
import type { BenchUser } from './users'

/**
 * Herald users that can authenticate for real, without N SIWE sign-ins: the rows a sign-in leaves behind (a
 * user and a session) are inserted in bulk, and the token is minted with Herald's own token service and the
 * JWT secret the server is started with. The server checks these tokens exactly as it checks any other
 * (signature, expiry, session row not revoked nor over).
 */
export async function seedHeraldUsers(db: Database, jwtSecret: string, n: number): Promise<BenchUser[]> {
  const tokens = createTokenService(jwtSecret)
  const sessionEnd = new Date(Date.now() + 24 * 3600_000)
  const tokenExpiresAt = Math.floor(Date.now() / 1000) * 1000 + 3 * 3600_000
  const seeded: BenchUser[] = []
  for (let offset = 0; offset < n; offset += 1000) {
    const count = Math.min(1000, n - offset)
    const created = await db
      .insert(users)
      .values(
        Array.from({ length: count }, () => ({
          address: getAddress(`0x${randomBytes(20).toString('hex')}`),
        })),
      )
      .returning({ id: users.id, address: users.address })
    const addressOf = new Map(created.map((user) => [user.id, user.address]))
    const opened = await db
      .insert(sessions)
      .values(created.map((user) => ({ userId: user.id, expiresAt: sessionEnd })))
      .returning({ id: sessions.id, userId: sessions.userId })
    for (const session of opened) {
      const token = await tokens.sign({
        userId: String(session.userId),
        sessionId: session.id,
        address: addressOf.get(session.userId)!,
        expiresAt: tokenExpiresAt,
      })
      seeded.push({ userId: String(session.userId), token })
    }
  }
  return seeded
}

/** `count` stored notifications the user has not seen (seq 1..count), as if created while they were away. */
export async function seedMissedNotifications(db: Database, userId: string, count: number): Promise<void> {
  const id = Number(userId)
  for (let offset = 0; offset < count; offset += 500) {
    await db.insert(notifications).values(
      Array.from({ length: Math.min(500, count - offset) }, (_, k) => ({
        userId: id,
        seq: offset + k + 1,
        type: 'bench',
        title: 'Bench notification',
        message: `Missed notification ${offset + k + 1} of the benchmark`,
        data: { i: offset + k + 1 },
      })),
    )
  }
  await db.update(users).set({ lastSeq: count }).where(eq(users.id, id))
}
