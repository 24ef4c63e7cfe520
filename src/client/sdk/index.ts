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
export { createHttpApi, HeraldApiError, type HttpApi } from './createHttpApi'
export { type SignInWithEthereumParams, signInWithEthereum } from './signInWithEthereum'
