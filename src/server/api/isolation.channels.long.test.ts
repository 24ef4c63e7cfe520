import { afterAll, beforeAll, expect, test } from 'bun:test'
import fc from 'fast-check'
import { adminPublish, channelToken } from '../../../test/helpers/channels'
import { checkProperty, watchUnhandledRejections } from '../../../test/helpers/fuzz'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { until } from '../../../test/helpers/until'
import { type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'

// The isolation property of isolation.test.ts for channels, in the long tier: it runs for up to 30 s.

const USERS = 5

let server: TestServer
const users: Session[] = []

beforeAll(async () => {
  // Many sockets open and close per run; the per-IP connection rate is not what this test is about.
  server = await startTestServer({
    MAX_CONNECTIONS_PER_USER: '10',
    WS_CONNECTIONS_PER_SECOND_PER_IP: '10000',
  })
  for (let i = 0; i < USERS; i++) users.push(await signIn(server.url))
}, 60_000)
afterAll(async () => {
  await server?.stop()
}, 30_000)

let run = 0

async function expectStatus(response: Response, status: number, what: string) {
  const text = await response.text()
  if (response.status !== status)
    throw new Error(`${what}: expected ${status}, got ${response.status} ${text}`)
  return text ? JSON.parse(text) : null
}

// ── Channels ─────────────────────────────────────────────────────────────────────────────────────────
// The same property for channels: for random subscriptions (with a subscription token of one's own, of
// another user, of another channel, or none, and anonymous ones), unsubscriptions and publications (the admin
// API's and subscribers' own), a connection receives a channel's publications only while it holds the right
// to them, every subscribe and publish is answered as the namespace's rights say, and a subscribed connection
// misses nothing.

const PRIVATE_ROOMS = ['private:iso-a', 'private:iso-b']
const PUBLIC_FEEDS = ['public:iso-a']
const ROOMS = [...PRIVATE_ROOMS, ...PUBLIC_FEEDS]

type TokenKind = 'own' | 'otherUser' | 'otherChannel' | 'none'
type ChannelAction =
  | { kind: 'subscribe'; socket: number; room: number; token: TokenKind }
  | { kind: 'unsubscribe'; socket: number; room: number }
  | { kind: 'adminPublish'; room: number }
  | { kind: 'publish'; socket: number; room: number }

const channelActionArb: fc.Arbitrary<ChannelAction> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      socket: fc.nat(),
      room: fc.nat(),
      token: fc.constantFrom<TokenKind>('own', 'own', 'otherUser', 'otherChannel', 'none'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('unsubscribe' as const), socket: fc.nat(), room: fc.nat() }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('adminPublish' as const), room: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('publish' as const), socket: fc.nat(), room: fc.nat() }),
  },
)

const channelTokenFor = (userId: string, channel: string) =>
  channelToken(server.url, ADMIN_KEY, userId, channel)

test('no channel publication reaches a connection without the right to it; subscribers miss none', async () => {
  const watcher = watchUnhandledRejections()
  const open: TestSocket[] = []
  try {
    const property = fc.asyncProperty(
      fc.uniqueArray(fc.nat({ max: USERS - 1 }), { minLength: 2, maxLength: 3 }),
      fc.array(channelActionArb, { minLength: 1, maxLength: 30 }),
      async (chosen, actions) => {
        run++
        const members = chosen.map((index) => users[index]!)
        // One socket per chosen user, and an anonymous one (owner null).
        const sockets: { socket: TestSocket; owner: Session | null }[] = []
        for (const member of members)
          sockets.push({ socket: await connectAuthenticated(server.wsUrl, member.token), owner: member })
        const anon = connectSocket(server.wsUrl)
        await anon.next('connected')
        sockets.push({ socket: anon, owner: null })
        for (const { socket } of sockets) open.push(socket)
        // Each run's rooms are its own (a suffix), so earlier runs' publications cannot mix in.
        const rooms = ROOMS.map((room) => `${room}-${run}`)
        /** Per socket, the rooms it is subscribed to now. */
        const subscribed = sockets.map(() => new Set<string>())
        for (const action of actions) {
          const room = rooms[('room' in action ? action.room : 0) % rooms.length]!
          const isPrivate = room.startsWith('private:')
          const entry = 'socket' in action ? sockets[action.socket % sockets.length]! : null
          const index = entry ? sockets.indexOf(entry) : -1
          switch (action.kind) {
            case 'subscribe': {
              const { socket, owner } = entry!
              let token: string | undefined
              if (isPrivate && action.token !== 'none') {
                const other = members.find((m) => m !== owner) ?? members[0]!
                const userId = action.token === 'otherUser' ? other.user.id : (owner ?? other).user.id
                const channel = action.token === 'otherChannel' ? `${room}-elsewhere` : room
                token = await channelTokenFor(userId, channel)
              }
              socket.send({ type: 'subscribe', channel: room, token })
              const answer = await socket.next(
                (m) =>
                  ['subscribed', 'error'].includes(m.type) && (m as { channel?: string }).channel === room,
                30_000,
              )
              const allowed = !isPrivate || (owner !== null && action.token === 'own')
              expect(answer.type).toBe(allowed ? 'subscribed' : 'error')
              if (!allowed) expect((answer as { code: string }).code).toBe('FORBIDDEN')
              if (allowed) subscribed[index]!.add(room)
              break
            }
            case 'unsubscribe': {
              const { socket } = entry!
              socket.send({ type: 'unsubscribe', channel: room })
              await socket.next(
                (m) => m.type === 'unsubscribed' && (m as { channel?: string }).channel === room,
                30_000,
              )
              subscribed[index]!.delete(room)
              break
            }
            case 'adminPublish': {
              await expectStatus(
                await adminPublish(server.url, ADMIN_KEY, room, { run, room }),
                201,
                'admin publish',
              )
              break
            }
            case 'publish': {
              const { socket } = entry!
              socket.send({ type: 'publish', channel: room, data: { run, room }, ref: `r${run}` })
              const answer = await socket.next(
                (m) =>
                  ['published', 'error'].includes(m.type) && (m as { channel?: string }).channel === room,
                30_000,
              )
              const allowed = isPrivate && subscribed[index]!.has(room)
              expect(answer.type === 'published' ? 'published' : (answer as { code: string }).code).toBe(
                allowed ? 'published' : 'FORBIDDEN',
              )
              break
            }
          }
        }
        // An end marker on every room: once a subscribed socket has it, everything before it has arrived.
        for (const room of rooms) {
          await expectStatus(await adminPublish(server.url, ADMIN_KEY, room, { end: run }), 201, 'end marker')
        }
        for (const [i, { socket }] of sockets.entries()) {
          // Looked for among everything received (the rooms' markers arrive in any order), not one after the
          // other with next(), which would step past a marker that came before the one it waits for.
          const ended = (room: string) =>
            socket.messages.some(
              (m) =>
                m.type === 'publication' &&
                (m as { channel?: string }).channel === room &&
                (m as { data?: { end?: number } }).data?.end === run,
            )
          await until(
            `the end markers of socket ${i}`,
            () => [...subscribed[i]!].every(ended) || undefined,
            30_000,
          )
          socket.send({ type: 'ping' })
          await socket.next('pong', 30_000)
          // Every publication arrived inside a subscription: after the room's `subscribed`, before `unsubscribed`.
          const inside = new Set<string>()
          const seqs = new Map<string, number[]>()
          for (const m of socket.messages) {
            const channel = (m as { channel?: string }).channel ?? ''
            if (m.type === 'subscribed') inside.add(channel)
            if (m.type === 'unsubscribed') inside.delete(channel)
            if (m.type !== 'publication') continue
            if (!inside.has(channel))
              throw new Error(
                `publication on ${channel} outside a subscription: ${JSON.stringify(socket.messages).slice(0, 1500)}`,
              )
            seqs.set(channel, [...(seqs.get(channel) ?? []), (m as { seq: number }).seq])
          }
          // A room's publications come in seq order (subscriptions here start "now": no replay repeats one).
          for (const list of seqs.values()) expect(list).toEqual([...new Set(list)].sort((a, b) => a - b))
          // Since its last `subscribed`, a room still subscribed got every seq after the one it named, up to
          // the end marker: none missed.
          for (const room of subscribed[i]!) {
            const at = socket.messages.findLastIndex(
              (m) => m.type === 'subscribed' && (m as { channel?: string }).channel === room,
            )
            const base = (socket.messages[at] as unknown as { seq: number }).seq
            const window = socket.messages
              .slice(at + 1)
              .filter((m) => m.type === 'publication' && (m as { channel?: string }).channel === room)
              .map((m) => (m as unknown as { seq: number }).seq)
            expect(window).toEqual(Array.from({ length: window.length }, (_, k) => base + 1 + k))
            expect(window.length).toBeGreaterThan(0)
          }
        }
        for (const socket of open.splice(0)) socket.close()
      },
    )
    const { numRuns } = await checkProperty('channel isolation', property, {
      numRuns: 100,
      timeLimitMs: 30_000,
    })
    expect(numRuns).toBeGreaterThanOrEqual(5)
    expect(watcher.rejections).toEqual([])
  } finally {
    watcher.stop()
    for (const socket of open) socket.close()
  }
}, 120_000)
