import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import webpush from 'web-push'
import type { Config } from '../config/loadConfig'
import { ConfigError } from '../errors'

export interface VapidKeys {
  /** The uncompressed P-256 point, base64url: what a browser passes to PushManager.subscribe. */
  publicKey: string
  privateKey: string
  subject: string
}

const FILE = 'vapid-keys.json'

/**
 * The VAPID key pair (RFC 8292): from VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY when set; in development generated
 * once into DATA_DIR (so subscriptions survive restarts: a browser's subscription is bound to the key it was
 * made with); elsewhere none, and Web Push is off.
 */
export function ensureVapidKeys(config: Config): VapidKeys | null {
  const subject = config.vapidSubject
  if (config.vapidPublicKey && config.vapidPrivateKey)
    return { publicKey: config.vapidPublicKey, privateKey: config.vapidPrivateKey, subject }
  if (config.env !== 'development') return null
  return { ...readOrCreateKeys(config.dataDir), subject }
}

function readOrCreateKeys(dataDir: string): { publicKey: string; privateKey: string } {
  const file = join(dataDir, FILE)
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { publicKey?: unknown; privateKey?: unknown }
    if (typeof kept.publicKey !== 'string' || typeof kept.privateKey !== 'string')
      throw new ConfigError(`The VAPID keys kept in ${file} are unreadable; delete the file.`)
    return { publicKey: kept.publicKey, privateKey: kept.privateKey }
  }
  mkdirSync(dataDir, { recursive: true })
  const keys = webpush.generateVAPIDKeys()
  try {
    writeFileSync(file, `${JSON.stringify(keys)}\n`, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateKeys(dataDir)
    throw error
  }
  return { publicKey: keys.publicKey, privateKey: keys.privateKey }
}
