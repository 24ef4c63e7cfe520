import type { Config } from './loadConfig'
import { readOrCreateSecret } from './readOrCreateSecret'

/**
 * The secret of `private:` channel subscription tokens. Outside production one is generated on first start and
 * kept in DATA_DIR, like JWT_SECRET, so private channels work at once. In production it must be set (every
 * instance, and the app's backend that signs tokens, need the same one); unset there, private channels are
 * closed (null) rather than the server refusing to start for a feature it may not use.
 */
export function ensureChannelTokenSecret(config: Config): string | null {
  if (config.channelTokenSecret) return config.channelTokenSecret
  if (config.env === 'production') return null
  return readOrCreateSecret(config.dataDir, 'channel-token-secret', 32)
}
