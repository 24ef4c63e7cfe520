import type { BroadcastMessage, Notification, ServerMessage } from '../../shared/protocol'
import type { Transaction } from '../db/openDatabase'

/**
 * Everything the hub pushes travels as one of these, through a Bus. The hub never learns which bus it has:
 * one process uses the in-process bus; several instances share PostgreSQL LISTEN/NOTIFY or Redis.
 */
export type BusEvent =
  /** A stored notification, committed; delivered in seq order per user. */
  | { kind: 'notification'; userId: string; notification: Notification }
  /** Any other message for every connection of one user (read_state, job_status, data_update). */
  | { kind: 'user'; userId: string; message: ServerMessage }
  /** Sent as it is to every open connection on every instance. */
  | { kind: 'broadcast'; message: BroadcastMessage }
  /** A session was revoked: its sockets close with 4001 wherever they are. */
  | { kind: 'session_revoked'; userId: string; sessionId: string }

export interface BusListener {
  onEvent(event: BusEvent): void
  /**
   * The bus may have missed events (a dropped connection to the broker, say). Listeners catch up from the
   * database, which holds every committed notification.
   */
  onResync?(): void
}

export interface Bus {
  readonly kind: string
  publish(event: BusEvent): Promise<void>
  /**
   * Publishes an event whose data has already committed (on a bus that could not take part in the
   * transaction). It never rejects: the data is stored, so a failed announcement must not turn the write
   * into a failure, which a caller would retry and so store twice. The failure goes to the bus's error
   * reporter; the hub's gap filling (at the user's next notification) or the client's resume delivers what
   * was stored.
   */
  announceCommitted(event: BusEvent): Promise<void>
  /**
   * Announces inside the caller's transaction, so the event goes out exactly when (and only if) it commits.
   * Buses that cannot take part in a transaction leave this out; transactWithEvents then publishes after
   * the commit.
   */
  publishWithin?(tx: Transaction, event: BusEvent): Promise<void>
  subscribe(listener: BusListener): () => void
  start(): Promise<void>
  stop(): Promise<void>
}
