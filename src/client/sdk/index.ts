export { createIdempotencyKey } from '../../shared/protocol/idempotency'
export type * from '../../shared/protocol/index'
export {
  type ChannelListener,
  type ChannelPresence,
  type ChannelSubscribeOptions,
  type ChannelSubscription,
  HeraldChannelError,
} from './channelSubscriptions'
export {
  type ConnectionState,
  createHeraldClient,
  type HeraldClient,
  type HeraldClientEvents,
  type HeraldClientOptions,
} from './createHeraldClient'
export { createHttpApi, HeraldApiError, type HttpApi, type WriteOptions } from './createHttpApi'
export {
  applyInboxCounts,
  applyInboxNotification,
  type InboxCountsState,
  inboxCountsOf,
  initialInboxCounts,
} from './inboxCounts'
export { type SignInWithEthereumParams, signInWithEthereum } from './signInWithEthereum'
