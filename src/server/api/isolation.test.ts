import { afterAll, beforeAll, expect, test } from 'bun:test'
import fc from 'fast-check'
import { checkProperty, watchUnhandledRejections } from '../../../test/helpers/fuzz'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { bearer, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, type TestSocket } from '../../../test/helpers/wsClient'
import type { Notification } from '../../shared/protocol'
import { jobs, tokens } from '../db/schema'
import { setJobStatus } from '../jobs/setJobStatus'

// Isolation between users as a property: for random users, connections, notifications, read-state changes,
// job and data updates, no connection ever receives another user's message, and every attempt to reach
// another user's notification or job by id over HTTP is a 404 (contract §1: "no difference is visible").
// The same property for channels runs for 30 s: it is in the long tier, isolation.channels.long.test.ts.

const USERS = 5

let server: TestServer
const users: Session[] = []
/** Per user: their notifications (id, seq) and job ids, across runs. */
const owned = new Map<string, { notifications: Notification[]; jobs: string[] }>()

beforeAll(async () => {
  // Many sockets open and close per run; the per-IP connection rate is not what this test is about.
  server = await startTestServer({
    MAX_CONNECTIONS_PER_USER: '10',
    WS_CONNECTIONS_PER_SECOND_PER_IP: '10000',
  })
  for (let i = 0; i < USERS; i++) {
    const session = await signIn(server.url)
    users.push(session)
    owned.set(session.user.id, { notifications: [], jobs: [] })
    // Tokens come from deployments on a chain; a row per user is enough to prove the list is the caller's.
    await server.database.db.insert(tokens).values({
      userId: Number(session.user.id),
      chainId: 31337,
      address: `0x${String(i + 1).padStart(40, '0')}`,
      name: `Token ${i}`,
      symbol: `T${i}`,
      initialSupply: '1',
      ownerAddress: session.user.address,
      deploymentTx: `0x${String(i + 1).padStart(64, '0')}`,
      deployedBlock: 1,
    })
  }
}, 60_000)
afterAll(async () => {
  await server?.stop()
}, 30_000)

type Action =
  | { kind: 'publish'; user: number }
  | { kind: 'markRead'; user: number; owner: number; pick: number }
  | { kind: 'readAll'; user: number }
  | { kind: 'job'; user: number }
  | { kind: 'data'; user: number }
  | { kind: 'guessJob'; user: number; owner: number; pick: number }
  | { kind: 'list'; user: number }

const actionArb = (n: number): fc.Arbitrary<Action> => {
  const user = fc.nat({ max: n - 1 })
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('publish' as const), user }) },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('markRead' as const), user, owner: user, pick: fc.nat() }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('readAll' as const), user }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('job' as const), user }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('data' as const), user }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('guessJob' as const), user, owner: user, pick: fc.nat() }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('list' as const), user }) },
  )
}

const scenarioArb = fc
  .record({
    // Which of the signed-in users take part, and how many sockets each holds.
    chosen: fc.uniqueArray(fc.nat({ max: USERS - 1 }), { minLength: 2, maxLength: USERS }),
    sockets: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: USERS, maxLength: USERS }),
  })
  .chain(({ chosen, sockets }) =>
    fc.record({
      chosen: fc.constant(chosen),
      sockets: fc.constant(sockets),
      actions: fc.array(actionArb(chosen.length), { minLength: 1, maxLength: 25 }),
    }),
  )

let run = 0

async function expectStatus(response: Response, status: number, what: string) {
  const text = await response.text()
  if (response.status !== status)
    throw new Error(`${what}: expected ${status}, got ${response.status} ${text}`)
  return text ? JSON.parse(text) : null
}

test('no connection receives another user’s messages; another user’s ids answer 404', async () => {
  const watcher = watchUnhandledRejections()
  const open: TestSocket[] = []
  try {
    const property = fc.asyncProperty(scenarioArb, async ({ chosen, sockets, actions }) => {
      run++
      const members = chosen.map((index) => users[index]!)
      const connections = new Map<string, TestSocket[]>()
      for (const [i, member] of members.entries()) {
        const list: TestSocket[] = []
        for (let k = 0; k < sockets[i]!; k++) {
          const socket = await connectAuthenticated(server.wsUrl, member.token)
          open.push(socket)
          list.push(socket)
        }
        connections.set(member.user.id, list)
      }
      // What each user's connections must receive in this run, and nothing of anyone else's.
      const expected = new Map(
        members.map((m) => [
          m.user.id,
          { notifications: 0, markers: new Set<string>(), jobs: new Set<string>() },
        ]),
      )
      for (const action of actions) {
        const me = members[action.user]!
        const mine = expected.get(me.user.id)!
        switch (action.kind) {
          case 'publish': {
            const body = await expectStatus(
              await server.publish({
                userId: me.user.id,
                type: 'isolation',
                title: `run ${run}`,
                message: 'm',
              }),
              201,
              'publish',
            )
            owned.get(me.user.id)!.notifications.push(body.notification)
            mine.notifications++
            break
          }
          case 'markRead': {
            const owner = members[action.owner]!
            const theirs = owned.get(owner.user.id)!.notifications
            if (theirs.length === 0) break
            const target = theirs[action.pick % theirs.length]!
            const response = await fetch(`${server.url}/api/notifications/${target.id}/read`, {
              method: 'POST',
              headers: bearer(me.token),
            })
            if (owner === me) {
              const body = await expectStatus(response, 200, 'marking my own notification read')
              expect(body.notification.id).toBe(target.id)
            } else {
              await expectStatus(response, 404, `user ${me.user.id} marking ${owner.user.id}'s ${target.id}`)
            }
            break
          }
          case 'readAll':
            await expectStatus(
              await fetch(`${server.url}/api/notifications/read-all`, {
                method: 'POST',
                headers: bearer(me.token),
              }),
              200,
              'read-all',
            )
            break
          case 'job': {
            const [row] = await server.database.db
              .insert(jobs)
              .values({ userId: Number(me.user.id), type: 'deploy_token', data: {} })
              .returning({ id: jobs.id })
            await setJobStatus(server.database.db, server.herald.testHooks.bus, {
              jobId: row!.id,
              userId: me.user.id,
              type: 'deploy_token',
              status: 'running',
            })
            owned.get(me.user.id)!.jobs.push(String(row!.id))
            mine.jobs.add(String(row!.id))
            break
          }
          case 'data': {
            const marker = `${run}-${mine.markers.size}-${me.user.id}`
            await server.herald.testHooks.announce({
              kind: 'user',
              userId: me.user.id,
              message: { type: 'data_update', entity: 'user', action: 'updated', data: { marker } },
            })
            mine.markers.add(marker)
            break
          }
          case 'guessJob': {
            const owner = members[action.owner]!
            const theirs = owned.get(owner.user.id)!.jobs
            if (theirs.length === 0) break
            const id = theirs[action.pick % theirs.length]!
            const response = await fetch(`${server.url}/api/jobs/${id}`, { headers: bearer(me.token) })
            if (owner === me) expect((await expectStatus(response, 200, 'my job')).id).toBe(id)
            else await expectStatus(response, 404, `user ${me.user.id} reading ${owner.user.id}'s job ${id}`)
            break
          }
          case 'list': {
            const mineIds = new Set(owned.get(me.user.id)!.notifications.map((n) => n.id))
            const list = await expectStatus(
              await fetch(`${server.url}/api/notifications?limit=100`, { headers: bearer(me.token) }),
              200,
              'list',
            )
            for (const n of list.notifications as Notification[]) expect(mineIds.has(n.id)).toBe(true)
            const tokenList = await expectStatus(
              await fetch(`${server.url}/api/tokens`, { headers: bearer(me.token) }),
              200,
              'tokens',
            )
            for (const token of tokenList.tokens as { ownerAddress: string }[])
              expect(token.ownerAddress).toBe(me.user.address)
            expect(tokenList.tokens).toHaveLength(1)
            break
          }
        }
      }
      // An end marker per user, pushed after everything else: once a connection has it (and its
      // notifications), anything addressed to it, or leaked to it, has arrived.
      for (const member of members) {
        await server.herald.testHooks.announce({
          kind: 'user',
          userId: member.user.id,
          message: { type: 'data_update', entity: 'user', action: 'updated', data: { marker: `end-${run}` } },
        })
      }
      for (const member of members) {
        const mine = expected.get(member.user.id)!
        const ownIds = new Set(owned.get(member.user.id)!.notifications.map((n) => n.id))
        const ownJobs = new Set(owned.get(member.user.id)!.jobs)
        for (const socket of connections.get(member.user.id)!) {
          await socket.next(
            (m) =>
              m.type === 'data_update' && (m as { data: { marker: string } }).data.marker === `end-${run}`,
            30_000,
          )
          if (mine.notifications > 0) await socket.collect('notification', mine.notifications, 30_000)
          socket.send({ type: 'ping' })
          await socket.next('pong', 30_000)
          const received = socket.messages
          const notifications = received.filter((m) => m.type === 'notification') as {
            notification: Notification
          }[]
          const describe = `user ${member.user.id} received ${JSON.stringify(received).slice(0, 1500)}`
          for (const { notification } of notifications)
            if (!ownIds.has(notification.id))
              throw new Error(`foreign notification ${notification.id}: ${describe}`)
          expect(notifications).toHaveLength(mine.notifications)
          const seqs = notifications.map((m) => m.notification.seq)
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
          for (const m of received) {
            if (m.type === 'read_state') {
              const ids = (m as { ids: string[] | 'all' }).ids
              if (ids !== 'all')
                for (const id of ids)
                  if (!ownIds.has(id)) throw new Error(`foreign read_state ${id}: ${describe}`)
            }
            if (m.type === 'job_status' && !ownJobs.has((m as { jobId: string }).jobId))
              throw new Error(`foreign job_status: ${describe}`)
            if (m.type === 'data_update') {
              const marker = (m as { data: { marker: string } }).data.marker
              if (marker !== `end-${run}` && !mine.markers.has(marker))
                throw new Error(`foreign data_update ${marker}: ${describe}`)
            }
          }
          const jobIds = received
            .filter((m) => m.type === 'job_status')
            .map((m) => (m as { jobId: string }).jobId)
          expect(new Set(jobIds)).toEqual(mine.jobs)
          const markers = received
            .filter((m) => m.type === 'data_update')
            .map((m) => (m as { data: { marker: string } }).data.marker)
          expect(markers).toEqual([...mine.markers, `end-${run}`])
        }
      }
      for (const socket of open.splice(0)) socket.close()
    })
    const { numRuns } = await checkProperty('isolation', property, { numRuns: 100, timeLimitMs: 30_000 })
    expect(numRuns).toBeGreaterThanOrEqual(5)
    expect(watcher.rejections).toEqual([])
  } finally {
    watcher.stop()
    for (const socket of open) socket.close()
  }
}, 120_000)
