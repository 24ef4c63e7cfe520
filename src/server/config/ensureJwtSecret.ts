import type { Config } from './loadConfig'
import { readOrCreateSecret } from './readOrCreateSecret'

/**
 * In development a secret is generated on first start and kept in DATA_DIR, so sessions survive restarts
 * without anyone having to invent one. (Production refuses to start without JWT_SECRET: see loadConfig.)
 */
export function ensureJwtSecret(config: Config): string {
  return config.jwtSecret ?? readOrCreateSecret(config.dataDir, 'jwt-secret', 32)
}
