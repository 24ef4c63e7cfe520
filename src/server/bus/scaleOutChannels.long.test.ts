import { afterAll, describe, expect, test } from 'bun:test'
import { channelToken, stillOpen, subscribe } from '../../../test/helpers/channels'
import { tempDirs, until } from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { redisAnswers, TEST_REDIS } from '../../../test/helpers/redis'
import { createTestDatabaseUrl, usingPostgres } from '../../../test/helpers/testDatabase'
import { type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'

/**
 * A server instance killed with SIGKILL says nothing: its channel members must still leave, on every other
 * instance, within PRESENCE_TTL_SECONDS (docs/protocol.md §4), and only they. Real processes on one
 * PostgreSQL, with the PostgreSQL bus and then the Redis bus. Only with HERALD_TEST_DATABASE_URL.
 */

const ADMIN_KEY = 'channels-kill-admin-key-0123456789'
const TTL_SECONDS = 3
const redisUp = usingPostgres() ? await redisAnswers() : false
const dirs = tempDirs('herald-channels-kill-')
const processes: HeraldProcess[] = []
const sockets: TestSocket[] = []
const cleanups: (() => Promise<unknown>)[] = []

afterAll(async () => {
  for (const socket of sockets) socket.close()
  await Promise.all(processes.map((p) => p.kill('SIGKILL')))
  for (const cleanup of cleanups) await cleanup()
  dirs.cleanup()
}, 30_000)

async function as(wsUrl: string, session: Session) {
  const socket = await connectAuthenticated(wsUrl, session.token)
  sockets.push(socket)
  return socket
}

async function killDrill(env: Record<string, string>, label: string) {
  const database = await createTestDatabaseUrl()
  cleanups.push(() => database.drop())
  const shared = {
    ...env,
    DATABASE_URL: database.url,
    HERALD_ADMIN_KEY: ADMIN_KEY,
    CHANNEL_TOKEN_SECRET: 'channels-kill-token-secret-0123456789abcdef',
    PRESENCE_TTL_SECONDS: String(TTL_SECONDS),
    ROLE: 'server',
  }
  const [a, b] = await Promise.all([
    spawnHerald({ ...shared, DATA_DIR: dirs.make() }, { label: `${label} A` }),
    spawnHerald({ ...shared, DATA_DIR: dirs.make() }, { label: `${label} B` }),
  ])
  processes.push(a, b)
  try {
    const room = 'private:kill-room'
    const [alice, bob, carol] = [await signIn(a.url), await signIn(b.url), await signIn(b.url)]
    const enter = async (wsUrl: string, session: Session) => {
      const socket = await as(wsUrl, session)
      const token = await channelToken(b.url, ADMIN_KEY, session.user.id, room)
      expect(await subscribe(socket, room, { token })).toMatchObject({ type: 'subscribed' })
      return socket
    }
    // Alice only on A (two tabs); carol on both; bob watches from B.
    await enter(a.wsUrl, alice)
    await enter(a.wsUrl, alice)
    await enter(a.wsUrl, carol)
    await enter(b.wsUrl, carol)
    const watcher = await enter(b.wsUrl, bob)
    const events = (kind: string, session: Session) =>
      watcher.messages.filter(
        (m) => m.type === kind && (m as { member: { userId: string } }).member.userId === session.user.id,
      )
    await until('alice and carol present', async () => {
      watcher.send({ type: 'presence', channel: room })
      const answer = (await watcher.next('presence')) as unknown as { members: unknown[] }
      return answer.members.length === 3 ? true : undefined
    })
    const killedAt = performance.now()
    a.proc.kill('SIGKILL')
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' })
    await until(
      'alice leaves',
      () => (events('leave', alice).length > 0 ? true : undefined),
      TTL_SECONDS * 1000 + 2000,
    )
    const elapsed = performance.now() - killedAt
    // Within the TTL of the kill (the last heartbeat came before it), with a little room for the bus.
    expect(elapsed).toBeLessThan(TTL_SECONDS * 1000 + 750)
    await stillOpen(watcher)
    // Carol keeps her connection on B: she stays, with one connection now.
    expect(events('leave', carol)).toEqual([])
    expect(events('leave', alice)).toHaveLength(1)
    watcher.send({ type: 'presence', channel: room })
    expect(await watcher.next('presence')).toMatchObject({
      members: expect.arrayContaining([
        { userId: carol.user.id, address: carol.user.address, connections: 1 },
        { userId: bob.user.id, address: bob.user.address, connections: 1 },
      ]),
    })
    console.log(
      `${label}: alice left ${Math.round(elapsed)} ms after SIGKILL (PRESENCE_TTL_SECONDS=${TTL_SECONDS})`,
    )
  } catch (error) {
    console.error(`${a.output()}\n${b.output()}`)
    throw error
  }
}

describe.skipIf(!usingPostgres())('SIGKILL of an instance: its channel members leave within the TTL', () => {
  test('PostgreSQL bus', () => killDrill({ BUS: 'postgres' }, 'pg'), 60_000)
  test.skipIf(!redisUp)(
    'Redis bus',
    () =>
      killDrill(
        { BUS: 'redis', REDIS_URL: TEST_REDIS.url, REDIS_CHANNEL: `herald:test:${crypto.randomUUID()}` },
        'redis',
      ),
    60_000,
  )
})
