import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { channelToken, publishOn } from '../../../test/helpers/channels'
import { range, until } from '../../../test/helpers/drill'
import { ADMIN_KEY, startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { type Session, signIn } from '../../../test/helpers/wallet'
import type { Publication } from '../../shared/protocol'
import { createDirectClient } from './directClient'
import { createTabsHub, type TabsHub } from './tabsHub'
import { createTabsMember, type HubLink } from './tabsMember'
import type { FromHub } from './tabsProtocol'
import type { HeraldClient } from './types'

// The shared socket's logic without a browser: members (each tab's client) and the owner (tabsHub.ts) joined by
// an in-memory link that clones every message as a MessagePort would, against a real Herald. "Crashing" the
// owner drops it without a word (its socket closes); a new owner takes the members' joins and resumes from
// their seq. The browser transports (SharedWorker, Web Locks) are tested in web/e2e/tabs.e2e.test.ts.

const FAST = { minReconnectDelayMs: 50, maxReconnectDelayMs: 250 }

/** An origin's tabs: one owner at a time, each member with its own link. */
function createOrigin(url: string) {
  let hub: TabsHub | null = null
  const readies = new Set<() => void>()
  const newHub = () => {
    hub = createTabsHub({ url, createClient: createDirectClient })
    for (const ready of readies) queueMicrotask(ready)
    return hub
  }
  const link = (): HubLink => {
    const id = crypto.randomUUID()
    let ready = () => {}
    let message: (m: FromHub) => void = () => {}
    return {
      open(handlers) {
        ready = handlers.ready
        message = handlers.message
        readies.add(ready)
        if (hub) queueMicrotask(ready)
      },
      send(body) {
        const target = hub
        const cloned = structuredClone(body)
        queueMicrotask(() =>
          target?.receive(id, cloned, (answer) => {
            const copy = structuredClone(answer)
            // A crashed owner says nothing more.
            queueMicrotask(() => hub === target && message(copy))
          }),
        )
      },
      close() {
        readies.delete(ready)
        const target = hub
        queueMicrotask(() => target?.detach(id))
      },
    }
  }
  return {
    newHub,
    link,
    crash() {
      const dead = hub
      hub = null
      dead?.stop()
    },
  }
}

const clients: HeraldClient[] = []
let origins: ReturnType<typeof createOrigin>[] = []
const waitFor = (what: string, check: () => boolean, timeoutMs = 10_000) =>
  until(what, () => (check() ? true : undefined), timeoutMs, 10)

describe('a socket shared by several tabs (proxy and owner)', () => {
  let server: TestServer
  let user: Session
  beforeAll(async () => {
    server = await startTestServer()
    user = await signIn(server.url)
  }, 30_000)
  afterAll(async () => {
    await server?.stop()
  }, 30_000)
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect()
    for (const origin of origins) origin.crash()
    origins = []
  })

  const tabs = (count: number, token: string | null = user.token) => {
    const origin = createOrigin(server.url)
    origins.push(origin)
    origin.newHub()
    const members = range(1, count).map(() => {
      const client = createTabsMember({ url: server.url, getToken: () => token, ...FAST }, origin.link)
      clients.push(client)
      const seqs: number[] = []
      const frames: number[] = []
      client.on('notification', (n) => seqs.push(n.seq))
      client.on('message', (m) => {
        if (m.type === 'notification') frames.push((m as { notification: { seq: number } }).notification.seq)
      })
      return { client, seqs, frames }
    })
    return { origin, members }
  }
  const publish = async (n: number) => {
    const response = await server.publish({ userId: user.user.id, type: 'tabs', title: `n${n}`, message: '' })
    return ((await response.json()) as { notification: { seq: number } }).notification.seq
  }
  const allConnected = (members: { client: HeraldClient }[]) =>
    waitFor('connected', () => members.every((m) => m.client.state === 'connected'))

  test('three tabs, one connection: every notification once, in order, in each', async () => {
    const { members } = tabs(3)
    await allConnected(members)
    expect(server.herald.connectionCount).toBe(1)
    expect(members.map((m) => m.client.userId)).toEqual([user.user.id, user.user.id, user.user.id])
    const published: number[] = []
    for (let n = 1; n <= 20; n++) published.push(await publish(n))
    await waitFor('20 in every tab', () => members.every((m) => m.seqs.length >= 20))
    for (const member of members) expect(member.seqs).toEqual(published)
  })

  test('the owner crashes mid-stream: a new one resumes from the tabs seq, nothing lost or repeated', async () => {
    const { origin, members } = tabs(2)
    await allConnected(members)
    const published: number[] = []
    for (let n = 1; n <= 5; n++) published.push(await publish(n))
    await waitFor('5', () => members.every((m) => m.seqs.length >= 5))
    origin.crash()
    await waitFor('no connection', () => server.herald.connectionCount === 0)
    for (let n = 6; n <= 10; n++) published.push(await publish(n))
    origin.newHub()
    await waitFor('10 in every tab', () => members.every((m) => m.seqs.length >= 10))
    for (let n = 11; n <= 12; n++) published.push(await publish(n))
    await waitFor('12 in every tab', () => members.every((m) => m.seqs.length >= 12))
    for (const member of members) expect(member.seqs).toEqual(published)
    expect(server.herald.connectionCount).toBe(1)
  })

  test('a tab that leaves does not disturb the others; the last one out closes the socket', async () => {
    const { members } = tabs(2)
    await allConnected(members)
    members[0]!.client.disconnect()
    expect(members[0]!.client.state).toBe('idle')
    const seq = await publish(1)
    await waitFor('delivered to the other', () => members[1]!.seqs.includes(seq))
    expect(members[0]!.seqs).toEqual([])
    members[1]!.client.disconnect()
    await waitFor('closed', () => server.herald.connectionCount === 0)
  })

  test('sign-out in one tab signs out every tab', async () => {
    const { members } = tabs(3)
    await allConnected(members)
    const signedOut: number[] = []
    for (const [i, m] of members.entries()) m.client.on('signedOut', () => signedOut.push(i))
    members[0]!.client.setToken(null)
    await waitFor('signed out', () => signedOut.length === 2)
    expect(signedOut.sort()).toEqual([1, 2])
    await waitFor('anonymous', () => members.every((m) => m.client.userId === null))
    await allConnected(members)
    await publish(1)
    expect(members.every((m) => m.seqs.length === 0)).toBe(true)
  })

  test('channels through the owner: publications once each in every tab, presence, across a crash', async () => {
    const { origin, members } = tabs(2)
    await allConnected(members)
    const received = members.map(() => [] as Publication[])
    const subscriptions = members.map((m, i) =>
      m.client.subscribe('public:tabs', { onPublication: (p) => received[i]!.push(p) }),
    )
    await waitFor('live', () => subscriptions.every((s) => s.state === 'live'))
    for (let i = 1; i <= 3; i++) await publishOn(server.url, ADMIN_KEY, 'public:tabs', { i })
    await waitFor('3 each', () => received.every((r) => r.length === 3))
    expect(await subscriptions[1]!.presence()).toEqual({ channel: 'public:tabs', users: 1, connections: 1 })
    origin.crash()
    await waitFor('no connection', () => server.herald.connectionCount === 0)
    for (let i = 4; i <= 5; i++) await publishOn(server.url, ADMIN_KEY, 'public:tabs', { i })
    origin.newHub()
    await waitFor('5 each', () => received.every((r) => r.length >= 5))
    await publishOn(server.url, ADMIN_KEY, 'public:tabs', { i: 6 })
    await waitFor('6 each', () => received.every((r) => r.length >= 6))
    for (const r of received) expect(r.map((p) => p.seq)).toEqual(range(1, 6))
    subscriptions[0]!.unsubscribe()
    await publishOn(server.url, ADMIN_KEY, 'public:tabs', { i: 7 })
    await waitFor('7 in the other', () => received[1]!.length === 7)
    expect(received[0]).toHaveLength(6)
  })

  test('a private channel: its token function asked in the tab, publish answered through the owner', async () => {
    const { members } = tabs(2)
    await allConnected(members)
    const room = 'private:tabs-room'
    let asked = 0
    const received = members.map(() => [] as Publication[])
    const subscriptions = members.map((m, i) =>
      m.client.subscribe(room, {
        token: () => {
          asked++
          return channelToken(server.url, ADMIN_KEY, user.user.id, room)
        },
        onPublication: (p) => received[i]!.push(p),
      }),
    )
    await waitFor('live', () => subscriptions.every((s) => s.state === 'live'))
    expect(asked).toBe(1)
    expect(await subscriptions[1]!.publish({ text: 'hi' })).toEqual({ seq: 1 })
    await waitFor('in both', () => received.every((r) => r.length === 1))
    expect(received[0]![0]).toMatchObject({ seq: 1, data: { text: 'hi' }, from: { userId: user.user.id } })
  })

  test('after a handover the owner resumes from the lowest seq among the tabs; each drops what it has', async () => {
    const { origin, members } = tabs(2)
    await allConnected(members)
    const published: number[] = []
    for (let n = 1; n <= 4; n++) published.push(await publish(n))
    await waitFor('4', () => members.every((m) => m.seqs.length >= 4))
    origin.crash()
    // A tab that had only delivered up to the second one (its own since), joining the new owner with the others.
    const behind = createTabsMember(
      { url: server.url, getToken: () => user.token, since: published[1]!, ...FAST },
      origin.link,
    )
    clients.push(behind)
    const behindSeqs: number[] = []
    behind.on('notification', (n) => behindSeqs.push(n.seq))
    published.push(await publish(5))
    origin.newHub()
    await waitFor('5 everywhere', () => members.every((m) => m.seqs.length >= 5) && behindSeqs.length >= 3)
    for (const member of members) expect(member.seqs).toEqual(published)
    // The raw frames too (`message` listeners, useWebSocket): the replay from the lowest seq repeats none.
    for (const member of members) expect(member.frames).toEqual(published)
    expect(behindSeqs).toEqual(published.slice(2))
  })

  test('a signed-in tab joining an owner that an anonymous tab started resumes from its own seq', async () => {
    const { origin, members } = tabs(1, null)
    await allConnected(members)
    const first = await publish(1)
    const second = await publish(2)
    // A signed-in tab that had delivered up to the first (a page restored with its seq): a token handed to the
    // open anonymous socket would start from "now" and miss the second.
    const tab = createTabsMember(
      { url: server.url, getToken: () => user.token, since: first, ...FAST },
      origin.link,
    )
    clients.push(tab)
    const seqs: number[] = []
    tab.on('notification', (n) => seqs.push(n.seq))
    await waitFor('the second', () => seqs.length === 1)
    const third = await publish(3)
    await waitFor('the third', () => seqs.length === 2)
    expect(seqs).toEqual([second, third])
    expect(tab.userId).toBe(user.user.id)
    expect(members[0]!.client.userId).toBeNull()
    expect(members[0]!.seqs).toEqual([])
    expect(server.herald.connectionCount).toBe(1)
  })
})

describe('a shared socket and token refresh', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ TOKEN_TTL_SECONDS: '3' })
  }, 30_000)
  afterAll(async () => {
    await server?.stop()
  }, 30_000)
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect()
    for (const origin of origins) origin.crash()
    origins = []
  })

  test('the owner refreshes once for every tab; each tab gets the token event and its HTTP API follows', async () => {
    const session = await signIn(server.url)
    const expiresAt = Date.parse(session.expiresAt)
    const origin = createOrigin(server.url)
    origins.push(origin)
    origin.newHub()
    const members = range(1, 2).map(() => {
      const client = createTabsMember(
        { url: server.url, getToken: () => session.token, refreshBeforeMs: 1_500, ...FAST },
        origin.link,
      )
      clients.push(client)
      const tokens: string[] = []
      const seqs: number[] = []
      client.on('token', (fresh) => tokens.push(fresh.token))
      client.on('notification', (n) => seqs.push(n.seq))
      return { client, tokens, seqs }
    })
    await waitFor('connected', () => members.every((m) => m.client.state === 'connected'))
    await waitFor('a refresh in both', () => members.every((m) => m.tokens.length >= 1), 6_000)
    expect(members[0]!.tokens[0]).toBe(members[1]!.tokens[0]!)
    await waitFor('the first token expired', () => Date.now() > expiresAt + 500, 6_000)
    const response = await server.publish({
      userId: session.user.id,
      type: 'tabs',
      title: 'late',
      message: '',
    })
    const { seq } = ((await response.json()) as { notification: { seq: number } }).notification
    await waitFor('delivered after the expiry', () => members.every((m) => m.seqs.includes(seq)))
    for (const member of members) expect(await member.client.api.auth.me()).toEqual(session.user)
    expect(server.herald.getUserConnectionCount(session.user.id)).toBe(1)
  }, 30_000)
})
