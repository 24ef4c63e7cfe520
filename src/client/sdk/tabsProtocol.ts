import type { Publication, SubscribedMessage } from '../../shared/protocol'
import type { ChannelPresence } from './channelSubscriptions'
import type { ConnectionState, HeraldClientEvents } from './types'

// The messages between a tab's client (a member) and the connection owner (the hub: a SharedWorker, or the
// leader tab). Structured-clonable only: they cross a MessagePort or a BroadcastChannel. Never on the wire.

/** What a member reports of itself when it joins (again, to a new hub after a handover). */
export interface MemberHello {
  /** The member's token (null: anonymous). */
  token: string | null
  /** The last notification seq this member delivered (null: none yet, start from "now"). */
  lastSeq: number | null
  /** Channels it is subscribed to, with the last seq each delivered. */
  channels: { name: string; since: number | null; hasToken: boolean }[]
  /** The connection options the owner uses when this member is the first one. */
  options: { minReconnectDelayMs?: number; maxReconnectDelayMs?: number; refreshBeforeMs?: number }
}

export type ToHub =
  | ({ type: 'join' } & MemberHello)
  | { type: 'leave' }
  /** setToken() in this tab: signs every tab of the origin in or out (null). */
  | { type: 'setToken'; token: string | null }
  | { type: 'send'; message: { type: string; [key: string]: unknown } }
  | { type: 'subscribe'; name: string; since: number | null; hasToken: boolean }
  | { type: 'unsubscribe'; name: string }
  | { type: 'publish'; name: string; id: number; data: unknown }
  | { type: 'presence'; name: string; id: number }
  /** The answer to an `ask`. */
  | { type: 'answer'; id: number; token: string | null }

export type ChannelEvent =
  | { kind: 'publication'; publication: Publication }
  | { kind: 'subscribed'; message: SubscribedMessage }
  | { kind: 'reset'; seq: number; message: unknown }
  | { kind: 'join' | 'leave'; member: unknown }
  | { kind: 'ended'; reason: string; message: string }

export type FromHub =
  /** The owner's connection, as every member mirrors it. */
  | {
      type: 'state'
      connection: ConnectionState
      closedReason: { code: string; message: string } | null
      userId: string | null
      lastSeq: number | null
    }
  /** A client event, for the member to emit (notifications are deduped by seq in the member). */
  | { type: 'event'; event: keyof HeraldClientEvents; args: unknown[] }
  | { type: 'channel'; name: string; event: ChannelEvent }
  | {
      type: 'result'
      id: number
      ok: boolean
      value?: { seq: number } | ChannelPresence
      code?: string
      message?: string
    }
  /** Another tab signed out: this one is signed out too. */
  | { type: 'signedOut' }
  /** The owner wants a token: the session's (`channel` absent, `fresh` after a refusal) or a channel's. */
  | { type: 'ask'; id: number; channel?: string; fresh?: boolean }

/** A BroadcastChannel frame in the leader mode: one channel per Herald URL, addressed by member id. */
export type Frame =
  | { to: 'hub'; from: string; body: ToHub }
  | { to: string; body: FromHub }
  /** A new owner is ready: every member joins it (again). */
  | { to: '*'; hub: 'ready' }

/**
 * The version of these messages. Tabs of two builds of an app can be open at once: a SharedWorker is per script
 * (each build's tabs talk to their own), but the leader election is per name, so the version is in the names.
 */
export const TABS_PROTOCOL = 1

/** Names shared by every tab of an origin for one Herald URL (and one version of these messages). */
export const sharedNames = (url: string) => ({
  channel: `herald:v${TABS_PROTOCOL}:${url}`,
  leaderLock: `herald:v${TABS_PROTOCOL}:leader:${url}`,
  memberLock: (member: string) => `herald:v${TABS_PROTOCOL}:member:${url}:${member}`,
})

/** The owner's questions to members (a token), each answered once or, after `timeoutMs`, as null. */
export function createAsks(timeoutMs: number) {
  const pending = new Map<number, (token: string | null) => void>()
  let next = 0
  return {
    ask(post: (id: number) => void): Promise<string | null> {
      const id = ++next
      return new Promise((resolve) => {
        const timer = setTimeout(() => settle(null), timeoutMs)
        const settle = (answer: string | null) => {
          clearTimeout(timer)
          pending.delete(id)
          resolve(answer)
        }
        pending.set(id, settle)
        post(id)
      })
    },
    answer(id: number, token: string | null) {
      pending.get(id)?.(token)
    },
  }
}

/**
 * How each client event reaches the members. Every event is listed, so a new one does not compile until it is
 * placed: `user` goes to the signed-in members (the user's own), `everyone` to all; `hub` ones are relayed by
 * the hub itself (`message` by what it carries, `state` as each member sees it, `signedOut` its own message).
 */
const RELAY: Record<keyof HeraldClientEvents, 'user' | 'everyone' | 'hub'> = {
  notification: 'user',
  job_status: 'user',
  data_update: 'user',
  read_state: 'user',
  inbox_state: 'user',
  preferences: 'user',
  authenticated: 'user',
  resumed: 'user',
  reset: 'user',
  error: 'user',
  token: 'user',
  broadcast: 'everyone',
  message: 'hub',
  state: 'hub',
  signedOut: 'hub',
}
export const relayed = (to: 'user' | 'everyone') =>
  (Object.keys(RELAY) as (keyof HeraldClientEvents)[]).filter((event) => RELAY[event] === to)
