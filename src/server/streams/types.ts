import type { ErrorReporter } from '../errors'
import type { Schedule } from '../time/clock'

// The delivery half of the stream core, as its users see it (src/server/streams/delivery.ts implements it).

export interface StreamItem {
  readonly seq: number
}

export interface StreamSource<Item extends StreamItem> {
  /** Items with seq > since, oldest first, at most `limit`. */
  loadSince(key: string, since: number, limit: number): Promise<Item[]>
  /** The stream's latest committed seq (0 for a stream with no items). */
  latestSeq(key: string): Promise<number>
}

/** What the core needs from the sockets; the hub implements it over Bun's native topics. */
export interface StreamTransport<M> {
  subscribe(member: M, topic: string): void
  unsubscribe(member: M, topic: string): void
  /**
   * One frame to every subscriber of `topic` (native fan-out). `members` are the stream's members on this
   * instance, `receivers` how many of them are on the topic: the transport's accounting, not its addressing.
   */
  publish(topic: string, frame: string, members: readonly M[], receivers: number): void
  send(member: M, frame: string): void
  /** Runs `sends` so that their frames leave together. */
  cork(member: M, sends: () => void): void
}

export interface StreamDeliveryOptions<M, Item extends StreamItem> {
  /** Prefix of each stream's native topic name (`u:` for inboxes, `c:` for channels). */
  topicPrefix: string
  /** The frame that carries an item to a client. */
  frame(key: string, item: Item): string
  source: StreamSource<Item>
  transport: StreamTransport<M>
  onError: ErrorReporter
  /** Called once per item pushed to this instance's live members (metrics). */
  onEmit?(item: Item): void
  /**
   * A stream begins (or stops) to be needed here: its first member or hold arrived (its last left). A bus that
   * delivers only what an instance asked for (Redis sharded pub/sub) starts following it; once that resolves,
   * the stream is caught up from the store, so an item announced before the bus followed it is not missed.
   */
  onStart?(key: string): Promise<void> | null | undefined
  onStop?(key: string): void
  /** How long a hole in a stream's seqs may stay open before it is filled from the store. */
  gapFillMs?: number
  /** Items one gap-filling read takes. */
  fillBatch?: number
  schedule?: Schedule
}

export type ReplayOutcome =
  /** The items after `since` were sent, then the `replayed` frame; live items follow. */
  | { kind: 'replayed'; since: number; replayed: number; seq: number }
  /** Too far behind (over the cap) or ahead of the store: the `reset` frame was sent; live from `seq`. */
  | { kind: 'reset'; seq: number }
  /** The store could not be read: the member is live (no replay); the caller says so and the client retries. */
  | { kind: 'unavailable' }
  /** The member left (its socket closed) while the store was read. */
  | { kind: 'gone' }
  /** A replay of this stream is already running for this member; this one is ignored. */
  | { kind: 'busy' }

export interface ReplayOptions {
  /** Most items a replay sends; more missing answers `reset`. */
  cap: number
  /** The frame that closes a replay (`resumed`, `subscribed`), sent after the items, before any live one. */
  replayed(since: number, replayed: number, seq: number): string
  /** The frame sent instead when the replay cannot be served from the store (`reset`, `channel_reset`). */
  reset(seq: number): string
}

export interface StreamDelivery<M, Item extends StreamItem> {
  /** Captures the stream's items from now on, before its base is read elsewhere (see `join`). */
  hold(key: string): void
  /** Ends a `hold` that led to no `join` (the authentication failed, say). */
  release(key: string): void
  /**
   * Adds a member. `base` is a seq the caller read from the store after `hold`: everything up to it is
   * committed (a stream new here starts from it). `live` false keeps the member off the topic until a
   * `replay` brings it there. With `held`, this join ends the caller's `hold`. Answers the seq after which
   * the member receives every item, or null when the stream's base is not known yet (no base given, none read).
   * `catchUp` reads the store after the base at once: for a base read without a `hold` before it, so an item
   * committed and announced in between is still found.
   */
  join(
    member: M,
    key: string,
    options?: { base?: number; live?: boolean; held?: boolean; catchUp?: boolean },
  ): number | null
  /**
   * Joins live "from now", reading the stream's base when it is not known here. Null: the store failed.
   * `joined` runs at the moment of the join, with the base: a frame it sends goes before any live item.
   */
  open(member: M, key: string, joined?: (base: number) => void): Promise<number | null>
  /** Sends the member every item after `since`, then `replayed`, then live items: none missing, none twice. */
  replay(member: M, key: string, since: number, options: ReplayOptions): Promise<ReplayOutcome>
  leave(member: M, key: string): void
  /** An item committed to the stream, from the bus. */
  onItem(key: string, item: Item): void
  /** A frame that is not one of the stream's items (no seq) to every member here, replaying ones included. */
  deliver(key: string, frame: string): void
  /** The bus may have lost items: every stream here catches up from the store. */
  resync(): void
  members(key: string): readonly M[]
  /** Streams with at least one member here. */
  readonly size: number
  stop(): void
}
