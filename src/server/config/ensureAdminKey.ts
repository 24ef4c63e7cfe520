import type { Config } from './loadConfig'
import { readOrCreateSecret } from './readOrCreateSecret'

/**
 * The publishing key. In development, so a newcomer can try publishing at once, one is generated into
 * DATA_DIR/admin-key; elsewhere only HERALD_ADMIN_KEY enables the admin routes.
 */
export function ensureAdminKey(config: Config): string | null {
  if (config.adminKey) return config.adminKey
  if (config.env !== 'development') return null
  return readOrCreateSecret(config.dataDir, 'admin-key', 16)
}
