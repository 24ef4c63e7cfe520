import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../errors'
import type { Config } from './loadConfig'

/**
 * In development a secret is generated on first start and kept in DATA_DIR, so sessions survive restarts
 * without anyone having to invent one.
 */
export function ensureJwtSecret(config: Config): string {
  if (config.jwtSecret) return config.jwtSecret
  const file = join(config.dataDir, 'jwt-secret')
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim()
    if (secret.length < 32)
      throw new ConfigError(`The JWT secret kept in ${file} is too short; delete the file.`)
    return secret
  }
  mkdirSync(config.dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  chmodSync(file, 0o600)
  return secret
}
