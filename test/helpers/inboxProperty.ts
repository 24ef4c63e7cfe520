import { expect } from 'bun:test'
import fc from 'fast-check'
import {
  applyInboxCounts,
  applyInboxNotification,
  type InboxCountsState,
  inboxCountsOf,
  initialInboxCounts,
} from '../../src/client/sdk/inboxCounts'
import { sqlRunner } from '../../src/server/db/sqlRunner'
import type { InboxCounts, Notification } from '../../src/shared/protocol'
import { until } from './drill'
import { checkProperty } from './fuzz'
import type { TestServer } from './testServer'
import { bearer, newAccount, type Session, signIn } from './wallet'
import { connectAuthenticated, type TestSocket } from './wsClient'

// The property of docs/protocol.md §7 "counts never drift": random sequences of inbox changes from several
// tabs on two devices, some at the same time, and after every step every connection's counts (what the SDK
// computes from the messages it was pushed: src/client/sdk/inboxCounts.ts) equal the database's.

const TYPES = ['deploy', 'transfer', 'digest'] as const

export type InboxOp =
  | { kind: 'publish'; type: string; critical: boolean }
  | { kind: 'read'; pick: number }
  | { kind: 'readAll'; upTo: number | null }
  | { kind: 'seen'; upTo: number | null }
  | { kind: 'archive'; pick: number }
  | { kind: 'unarchive'; pick: number }
  | { kind: 'preference'; type: string; inApp: boolean }

const type = fc.constantFrom(...TYPES)
const op: fc.Arbitrary<{ op: InboxOp; device: number }> = fc.record({
  device: fc.nat({ max: 1 }),
  op: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('publish' as const), type, critical: fc.boolean() }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('readAll' as const), upTo: fc.option(fc.nat({ max: 60 })) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('seen' as const), upTo: fc.option(fc.nat({ max: 60 })) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('archive' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unarchive' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('preference' as const), type, inApp: fc.boolean() }),
    },
  ),
})
/** A step: one to three changes sent at the same time (from any tab of either device). */
export const steps = (maxSteps: number) =>
  fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: maxSteps })

interface Tab {
  socket: TestSocket
  /** How far this tab has read the socket's messages. */
  read: number
  counts: InboxCountsState
}

export const COUNTS_SQL = `select
  (select count(*) from notifications where user_id = $1 and read_at is null and archived_at is null)::int
    as "unreadCount",
  (select count(*) from notifications where user_id = $1 and seen_at is null and archived_at is null)::int
    as "unseenCount"`

/** Where the steps run: one or more instances of one deployment, and a way to read its database's counts. */
export interface InboxTarget {
  instances: { url: string; wsUrl: string }[]
  /** The admin publish route, on any instance. */
  publish(body: Record<string, unknown>): Promise<Response>
  counts(userId: string): Promise<{ unreadCount: number; unseenCount: number }>
}

/** One in-process test server as a target. */
export function serverTarget(server: TestServer): InboxTarget {
  const runner = sqlRunner(server.database.db)
  return {
    instances: [{ url: server.url, wsUrl: server.wsUrl }],
    publish: (body) => server.publish(body),
    async counts(userId) {
      const [row] = await runner.query<{ unreadCount: number; unseenCount: number }>(COUNTS_SQL, [userId])
      return { unreadCount: Number(row!.unreadCount), unseenCount: Number(row!.unseenCount) }
    },
  }
}

function follow(tab: Tab) {
  for (; tab.read < tab.socket.messages.length; tab.read++) {
    const message = tab.socket.messages[tab.read]!
    if (message.type === 'notification')
      tab.counts = applyInboxNotification(
        tab.counts,
        (message as { notification: Notification }).notification,
      )
    else if (message.type === 'read_state' || message.type === 'inbox_state')
      tab.counts = applyInboxCounts(tab.counts, message as unknown as InboxCounts)
  }
  return inboxCountsOf(tab.counts)
}

/**
 * One run: a fresh user with `tabsPerDevice` tabs on each of two devices (two sessions), the steps in order.
 * Tabs are spread over the instances, and each device calls its own instance.
 */
export async function runInboxSteps(
  target: InboxTarget | TestServer,
  plan: { op: InboxOp; device: number }[][],
  tabsPerDevice: number,
): Promise<{ published: number; changes: number }> {
  const { instances, publish, counts } = 'instances' in target ? target : serverTarget(target)
  const at = (i: number) => instances[i % instances.length]!
  const account = newAccount()
  const devices: Session[] = [await signIn(at(0).url, account), await signIn(at(1).url, account)]
  const userId = devices[0]!.user.id
  const tabs: Tab[] = []
  for (const device of devices)
    for (let i = 0; i < tabsPerDevice; i++)
      tabs.push({
        socket: await connectAuthenticated(at(tabs.length).wsUrl, device.token),
        read: 0,
        // A new user: nothing yet, at seq 0 and version 0 (what GET .../unread-count answers).
        counts: applyInboxCounts(initialInboxCounts(), {
          unreadCount: 0,
          unseenCount: 0,
          seq: 0,
          version: 0,
        }),
      })
  const ids: string[] = []
  let latest = 0
  let published = 0
  let changes = 0
  const call = async (device: number, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${at(device).url}${path}`, {
      method,
      headers: { ...bearer(devices[device]!.token), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    expect(response.status).toBe(200)
    return response.json()
  }
  const preferences: Record<string, { inApp: boolean }> = {}
  const run = async ({ op, device }: { op: InboxOp; device: number }) => {
    const pick = (n: number) => ids[n % ids.length]
    switch (op.kind) {
      case 'publish': {
        const response = await publish({
          userId,
          type: op.type,
          title: op.type,
          message: 'm',
          critical: op.critical,
        })
        expect(response.status).toBe(201)
        const body = (await response.json()) as { notification: Notification | null }
        if (body.notification) {
          ids.push(body.notification.id)
          latest = Math.max(latest, body.notification.seq)
          published++
        }
        return
      }
      case 'read':
        if (ids.length > 0) await call(device, 'POST', `/api/notifications/${pick(op.pick)}/read`)
        break
      case 'archive':
      case 'unarchive':
        if (ids.length > 0) await call(device, 'POST', `/api/notifications/${pick(op.pick)}/${op.kind}`)
        break
      case 'readAll':
      case 'seen':
        await call(
          device,
          'POST',
          `/api/notifications/${op.kind === 'readAll' ? 'read-all' : 'seen'}`,
          op.upTo === null ? {} : { upToSeq: op.upTo % (latest + 3) },
        )
        break
      case 'preference':
        preferences[op.type] = { inApp: op.inApp }
        await call(device, 'PUT', '/api/preferences', { types: { ...preferences } })
        break
    }
    changes++
  }
  try {
    for (const [index, step] of plan.entries()) {
      await Promise.all(step.map(run))
      const expected = await counts(userId)
      await until(
        `every tab's counts to equal the database's ${JSON.stringify(expected)} after step ${index} ${JSON.stringify(step)}`,
        () => (tabs.every((tab) => Bun.deepEquals(follow(tab), expected)) ? true : undefined),
        5000,
        5,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; tabs: ${JSON.stringify(tabs.map(follow))}`)
      })
      // And what the HTTP API answers is the same.
      const answered = (await call(0, 'GET', '/api/notifications/unread-count')) as InboxCounts
      expect({ unreadCount: answered.unreadCount, unseenCount: answered.unseenCount }).toEqual(expected)
    }
  } finally {
    for (const tab of tabs) tab.socket.close()
  }
  return { published, changes }
}

/**
 * The property of issue 16 item 5, as both tiers run it: random plans of up to `maxSteps` over `tabs` tabs on
 * each of two devices, and every tab's counts checked after every step. `name` shows in a failure.
 */
export async function checkInboxCounts(
  server: TestServer,
  options: { name: string; maxSteps: number; tabs: number; numRuns: number; timeLimitMs: number },
): Promise<{ numRuns: number; changes: number }> {
  let changes = 0
  const { numRuns } = await checkProperty(
    options.name,
    fc.asyncProperty(steps(options.maxSteps), async (plan) => {
      changes += (await runInboxSteps(server, plan, options.tabs)).changes
    }),
    { numRuns: options.numRuns, timeLimitMs: options.timeLimitMs },
  )
  return { numRuns, changes }
}

/**
 * Each run signs in twice (two devices), opens a socket per tab and publishes a lot: more than the default
 * budgets of one address allow.
 */
export const INBOX_PROPERTY_ENV = {
  AUTH_RATE_PER_MINUTE: '100000',
  ADMIN_RATE_PER_SECOND: '100000',
  WS_CONNECTIONS_PER_SECOND_PER_IP: '100000',
}
