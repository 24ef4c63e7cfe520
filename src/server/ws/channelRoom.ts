import {
  type ChannelMember,
  clientMayPublish,
  hasMembers,
  type Publication,
  type PublishMessage,
  type ServerMessage,
  type SubscribeMessage,
  type UnsubscribeReason,
  type WsErrorCode,
} from '../../shared/protocol'
import { type ChannelName, readChannel } from '../channels/channelName'
import type { ChannelRights, RightRefusal, SubscribeRight } from '../channels/channelRights'
import type { ChannelStore } from '../channels/createChannelStore'
import type { Presence } from '../channels/createPresence'
import { createHolderWatch } from '../channels/holderWatch'
import type { PresenceTransition } from '../channels/presenceReplica'
import type { ErrorReporter } from '../errors'
import { unstorable } from '../http/assertStorable'
import { createRateLimiter } from '../http/createRateLimiter'
import { createStreamDelivery, type ReplayOptions } from '../streams/delivery'
import type { Clock } from '../time/clock'
import type { ChannelSubscription, Connection } from './Connection'
import type { Transport } from './transport'

export interface ChannelRoomDeps {
  store: Pick<ChannelStore, 'publish' | 'source'>
  rights: ChannelRights
  presence: Presence
  transport: Transport
  clock: Clock
  onError: ErrorReporter
  onRateLimited(): void
  config: {
    maxSubscriptionsPerConnection: number
    maxPublicationBytes: number
    channelPublishesPerSecond: number
    replayCap: number
  }
  /** How often every `holders:` subscription's balance is read again (default 60 s). */
  holderRecheckMs?: number
  /** On a bus that delivers only what is followed: follow each channel while it has subscribers here. */
  follow?: { start(channel: string): Promise<void> | null | undefined; stop(channel: string): void }
}

export interface ChannelRoom {
  subscribe(connection: Connection, message: SubscribeMessage): Promise<void>
  unsubscribe(connection: Connection, channel: string): void
  publish(connection: Connection, message: PublishMessage): Promise<void>
  presence(connection: Connection, channel: string): Promise<void>
  /** An anonymous connection signed in: presence counts it as its user from now on. */
  signedIn(connection: Connection): void
  /** The connection closed: every subscription goes, once. */
  forget(connection: Connection): void
  /** A publication committed, from the bus. */
  onItem(channel: string, publication: Publication): void
  /** A holder's balance changed (the transfer watcher saw it): their `holders:` subscriptions are checked now. */
  holderCheck(token: string, address: string): void
  /** The bus may have lost publications: every channel here catches up from the store. */
  resync(): void
  start(): void
  stop(): void
}

const HOLDER_RECHECK_MS = 60_000

const publicationFrame = (publication: Publication) =>
  `{"type":"publication",${JSON.stringify(publication).slice(1)}`
const namespaceOf = (channel: string) => channel.slice(0, channel.indexOf(':'))

/**
 * The hub's channels (docs/protocol.md §4): subscribe (rights, the subscription limit, a replay from `since`
 * or "from now"), unsubscribe, publish (rights, size, the per-user rate, stored then pushed), presence, and the
 * rights that end on their own: a subscription token's expiry, a holder whose balance went to zero (re-read
 * every minute, and at once when the transfer watcher says so). Publications travel through the stream core's
 * delivery under topics `c:<channel>`: one native publish per publication per instance, whatever the number
 * of subscribers. Every refusal is an `error` naming the channel, and the socket stays open.
 */
export function createChannelRoom(deps: ChannelRoomDeps): ChannelRoom {
  const { store, rights, presence, transport, clock, onError, config } = deps
  const delivery = createStreamDelivery<Connection, Publication>({
    topicPrefix: 'c:',
    frame: (_, publication) => publicationFrame(publication),
    source: store.source,
    transport,
    onError,
    schedule: clock.schedule,
    ...(deps.follow && { onStart: deps.follow.start, onStop: deps.follow.stop }),
  })
  const publishes = createRateLimiter({
    ratePerSecond: config.channelPublishesPerSecond,
    burst: config.channelPublishesPerSecond * 2,
    now: clock.now,
  })
  const holders = createHolderWatch<Connection>({
    holds: (token, address) => rights.holds(token, address),
    onLost: (connection, token) => end(connection, `holders:${token}`, 'FORBIDDEN'),
    clock,
    onError,
    intervalMs: deps.holderRecheckMs ?? HOLDER_RECHECK_MS,
  })
  let stopPresence: (() => void) | null = null

  const send = (connection: Connection, message: ServerMessage) =>
    transport.send(connection, JSON.stringify(message))
  const refuse = (
    connection: Connection,
    code: WsErrorCode,
    channel: string,
    message: string,
    ref?: string,
  ) => send(connection, { type: 'error', code, channel, message, ...(ref === undefined ? {} : { ref }) })
  const refusalCode = (refusal: RightRefusal): WsErrorCode =>
    refusal.reason === 'unavailable' ? 'UNAVAILABLE' : 'FORBIDDEN'

  const viewerOf = (connection: Connection): ChannelMember | null =>
    connection.userId === null ? null : { userId: connection.userId, address: connection.address ?? '' }

  const replayFrames = (channel: string): ReplayOptions => ({
    cap: config.replayCap,
    replayed: (_since, replayed, seq) => JSON.stringify({ type: 'subscribed', channel, seq, replayed }),
    reset: (seq) => JSON.stringify({ type: 'channel_reset', channel, seq }),
  })

  const untrackHolder = (connection: Connection, subscription: ChannelSubscription) => {
    if (subscription.heldToken === null || connection.address === null) return
    holders.untrack(connection, subscription.heldToken, connection.address)
    subscription.heldToken = null
  }

  /** Everything the subscription holds here is let go; the caller says so to the client when it must. */
  const drop = (connection: Connection, subscription: ChannelSubscription) => {
    if (connection.channels?.get(subscription.name) === subscription)
      connection.channels.delete(subscription.name)
    if (connection.channels?.size === 0) connection.channels = null
    subscription.cancelExpiry?.()
    subscription.cancelExpiry = null
    untrackHolder(connection, subscription)
    delivery.leave(connection, subscription.name)
    if (subscription.counted) presence.remove(subscription.name, subscription.member)
    subscription.counted = false
  }

  const end = (connection: Connection, channel: string, reason: UnsubscribeReason) => {
    const subscription = connection.channels?.get(channel)
    if (!subscription || connection.closed) return
    drop(connection, subscription)
    send(connection, { type: 'unsubscribed', channel, reason })
  }

  /** The right's own end: the token's expiry, or the holder's balance (re-checked). */
  const applyRight = (connection: Connection, subscription: ChannelSubscription, right: SubscribeRight) => {
    subscription.cancelExpiry?.()
    subscription.cancelExpiry = null
    if (right.expiresAt !== null)
      subscription.cancelExpiry = clock.schedule(
        () => {
          subscription.cancelExpiry = null
          end(connection, subscription.name, 'TOKEN_EXPIRED')
        },
        Math.max(0, right.expiresAt - clock.now()),
      )
    if (right.heldToken !== null && subscription.heldToken === null && connection.address !== null) {
      subscription.heldToken = right.heldToken
      holders.track(connection, right.heldToken, connection.address)
    }
  }

  const count = (subscription: ChannelSubscription, member: ChannelMember | null) => {
    subscription.member = member
    subscription.counted = true
    presence.add(subscription.name, member)
  }

  const onTransition = (transition: PresenceTransition) => {
    if (!hasMembers(namespaceOf(transition.channel) as ChannelName['namespace'])) return
    delivery.deliver(
      transition.channel,
      JSON.stringify({ type: transition.kind, channel: transition.channel, member: transition.member }),
    )
  }

  return {
    async subscribe(connection, message) {
      const reading = readChannel(message.channel)
      if (!reading.ok) return refuse(connection, 'INVALID_CHANNEL', message.channel, reading.reason)
      const { name } = reading.channel
      let subscription = connection.channels?.get(name)
      if (!subscription && (connection.channels?.size ?? 0) >= config.maxSubscriptionsPerConnection)
        return refuse(
          connection,
          'SUBSCRIPTION_LIMIT',
          name,
          `At most ${config.maxSubscriptionsPerConnection} channels per connection; unsubscribe from one first.`,
        )
      const viewer = viewerOf(connection)
      const check = await rights.check(reading.channel, viewer, message.token)
      if (connection.closed) return
      if (!check.ok) return refuse(connection, refusalCode(check.refusal), name, check.refusal.message)
      const fresh = subscription === undefined
      if (!subscription) {
        subscription = {
          name,
          namespace: reading.channel.namespace,
          member: null,
          counted: false,
          cancelExpiry: null,
          heldToken: null,
        }
        connection.channels ??= new Map()
        connection.channels.set(name, subscription)
      }
      applyRight(connection, subscription, check.right)
      const current = subscription
      // Closed, or unsubscribed by its right's end, while the store was read: the stream is let go again, since
      // a join that finished after the drop would keep a member nobody accounts for.
      const gone = () => {
        if (!connection.closed && connection.channels?.get(name) === current) return false
        delivery.leave(connection, name)
        return true
      }
      if (message.since === undefined) {
        // `subscribed` goes at the moment of the join, so no live publication can come before it.
        const answer = (seq: number) => {
          if (connection.channels?.get(name) === current)
            send(connection, { type: 'subscribed', channel: name, seq, replayed: 0 })
        }
        if (!fresh) answer(delivery.join(connection, name)!)
        else if ((await delivery.open(connection, name, answer)) === null) {
          if (gone()) return
          drop(connection, current)
          return refuse(
            connection,
            'UNAVAILABLE',
            name,
            'Subscribing is unavailable right now; try again shortly.',
          )
        }
        if (gone()) return
      } else {
        delivery.join(connection, name, { live: false })
        const outcome = await delivery.replay(connection, name, message.since, replayFrames(name))
        if (gone()) return
        if (outcome.kind === 'unavailable') {
          if (fresh) drop(connection, current)
          return refuse(
            connection,
            'UNAVAILABLE',
            name,
            'Subscribing is unavailable right now; try again shortly.',
          )
        }
      }
      if (fresh) count(current, viewer)
    },

    unsubscribe(connection, channel) {
      const reading = readChannel(channel)
      if (!reading.ok) return refuse(connection, 'INVALID_CHANNEL', channel, reading.reason)
      const { name } = reading.channel
      const subscription = connection.channels?.get(name)
      if (subscription) drop(connection, subscription)
      send(connection, { type: 'unsubscribed', channel: name, reason: 'client' })
    },

    async publish(connection, message) {
      const { ref } = message
      const reading = readChannel(message.channel)
      if (!reading.ok) return refuse(connection, 'INVALID_CHANNEL', message.channel, reading.reason, ref)
      const { name, namespace } = reading.channel
      if (!clientMayPublish(namespace))
        return refuse(connection, 'FORBIDDEN', name, `Clients do not publish on ${namespace}: channels.`, ref)
      const viewer = viewerOf(connection)
      if (!connection.channels?.has(name) || viewer === null)
        return refuse(connection, 'FORBIDDEN', name, `Subscribe to ${name} before publishing on it.`, ref)
      if (publishes.take(viewer.userId) > 0) {
        deps.onRateLimited()
        return refuse(
          connection,
          'RATE_LIMITED',
          name,
          'Too many publications from this user; slow down.',
          ref,
        )
      }
      const json = JSON.stringify(message.data)
      if (Buffer.byteLength(json) > config.maxPublicationBytes)
        return refuse(
          connection,
          'PAYLOAD_TOO_LARGE',
          name,
          `A publication's data is at most ${config.maxPublicationBytes} bytes of JSON.`,
          ref,
        )
      const problem = unstorable(message.data)
      if (problem) return refuse(connection, 'INVALID_MESSAGE', name, `data ${problem}.`, ref)
      let publication: Publication
      try {
        publication = await store.publish(name, message.data, viewer)
      } catch (error) {
        onError(error, `publishing on ${name}`)
        return refuse(connection, 'UNAVAILABLE', name, 'The publication could not be stored; try again.', ref)
      }
      send(connection, {
        type: 'published',
        channel: name,
        seq: publication.seq,
        ...(ref === undefined ? {} : { ref }),
      })
    },

    async presence(connection, channel) {
      const reading = readChannel(channel)
      if (!reading.ok) return refuse(connection, 'INVALID_CHANNEL', channel, reading.reason)
      const { name, namespace } = reading.channel
      if (!connection.channels?.has(name))
        return refuse(connection, 'FORBIDDEN', name, `Subscribe to ${name} before asking who is there.`)
      await presence.settled()
      if (connection.closed) return
      if (hasMembers(namespace))
        send(connection, { type: 'presence', channel: name, members: presence.members(name) })
      else send(connection, { type: 'presence', channel: name, ...presence.counts(name) })
    },

    signedIn(connection) {
      const viewer = viewerOf(connection)
      if (!connection.channels || viewer === null) return
      for (const subscription of connection.channels.values()) {
        if (!subscription.counted || subscription.member !== null) continue
        presence.remove(subscription.name, null)
        count(subscription, viewer)
      }
    },

    forget(connection) {
      if (!connection.channels) return
      for (const subscription of [...connection.channels.values()]) drop(connection, subscription)
      connection.channels = null
    },

    onItem: (channel, publication) => delivery.onItem(channel, publication),

    holderCheck: (token, address) => holders.check(token, address),

    resync: () => delivery.resync(),

    start() {
      if (stopPresence) return
      stopPresence = presence.listen(onTransition)
      holders.start()
    },

    stop() {
      stopPresence?.()
      stopPresence = null
      holders.stop()
      delivery.stop()
    },
  }
}
