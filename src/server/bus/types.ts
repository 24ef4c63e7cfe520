import type { BroadcastMessage, ServerMessage } from '../../shared/protocol'

/** The kinds of stream the stream core delivers: a user's inbox (keyed by user id), a channel (by its name). */
export type StreamKind = 'inbox' | 'channel'

/**
 * One instance's count of one user's connections subscribed to one channel (`userId` null: its anonymous
 * connections there). Absolute, not a difference, so a later entry for the same pair corrects a lost one.
 */
export type PresenceEntry = readonly [
  channel: string,
  userId: string | null,
  address: string | null,
  connections: number,
]

/**
 * Channel presence between instances (src/server/channels/presence.ts): `changes` since the source's previous
 * message, numbered per source so a receiver sees a gap; a `snapshot` of everything the source counts (asked
 * for with `request`, to one source or all); a `heartbeat` with the source's latest number while it lives; and
 * `bye` when it stops.
 */
export type PresenceBusMessage =
  | { op: 'changes'; source: string; seq: number; entries: PresenceEntry[] }
  | { op: 'snapshot'; source: string; seq: number; entries: PresenceEntry[] }
  | { op: 'heartbeat'; source: string; seq: number }
  | { op: 'request'; source: string; to: string | null }
  | { op: 'bye'; source: string }

/**
 * Everything the hub pushes travels as one of these, through a Bus. The hub never learns which bus it has:
 * one process uses the in-process bus; several instances share PostgreSQL LISTEN/NOTIFY or Redis.
 */
export type BusEvent =
  /** An item stored in a stream, committed; delivered in seq order per stream (see src/server/streams). */
  | { kind: 'item'; stream: StreamKind; key: string; item: { seq: number } }
  /** Any other message for every connection of one user (read_state, job_status, data_update). */
  | { kind: 'user'; userId: string; message: ServerMessage }
  /** Sent as it is to every open connection on every instance. */
  | { kind: 'broadcast'; message: BroadcastMessage }
  /** A session was revoked: its sockets close with 4001 wherever they are. */
  | { kind: 'session_revoked'; userId: string; sessionId: string }
  /** Channel presence between instances. */
  | ({ kind: 'presence' } & PresenceBusMessage)
  /** A holder's balance of a token changed: `holders:` subscriptions of that address are checked again now. */
  | { kind: 'holder_check'; token: string; address: string }

export interface BusListener {
  onEvent(event: BusEvent): void
  /**
   * The bus may have missed events (a dropped connection to the broker, say). Listeners catch up from the
   * database, which holds every committed item.
   */
  onResync?(): void
}

/**
 * There are two ways to put an event on a bus, and only two:
 * - inside a transaction, with `transact` (src/server/bus/transact.ts): the event goes out exactly when, and
 *   only if, the transaction commits;
 * - `announce`, for an event whose data has committed already, or that has no data at all. It never rejects.
 */
export interface Bus {
  readonly kind: 'memory' | 'postgres' | 'redis'
  /**
   * The bus's capability to take part in a transaction: the PostgreSQL channel a statement may `pg_notify`
   * on, so its events commit with it (in commit order, never for a rolled-back write). Null for buses that
   * cannot; `transact` and the stream writer then announce right after the commit.
   */
  readonly notifyChannel: string | null
  /**
   * Sends an event now. It never rejects: data it announces is stored already, and a failed announcement must
   * not turn the write into a failure that a caller would retry, storing twice. The failure goes to the bus's
   * error reporter; the hub's gap filling (at the stream's next item) or the client's resume delivers what
   * was stored.
   */
  announce(event: BusEvent): Promise<void>
  subscribe(listener: BusListener): () => void
  /**
   * Only on buses that deliver each instance what it follows (Redis with sharded pub/sub; see busTopics.ts):
   * start receiving the events of `topic` (counted: as many unfollows as follows end it). Resolves once they
   * arrive here; null when they already did (nothing can have been missed). Absent: every instance receives
   * every event.
   */
  follow?(topic: string): Promise<void> | null
  unfollow?(topic: string): void
  start(): Promise<void>
  stop(): Promise<void>
}
