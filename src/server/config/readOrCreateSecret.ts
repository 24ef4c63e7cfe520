import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../errors'

/** A secret kept in DATA_DIR: generated on first use (mode 0600) and read back on every later start. */
export function readOrCreateSecret(dataDir: string, fileName: string, minLength: number): string {
  const file = join(dataDir, fileName)
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim()
    if (secret.length < minLength)
      throw new ConfigError(`The secret kept in ${file} is too short; delete the file.`)
    return secret
  }
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(32).toString('base64url')
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return readOrCreateSecret(dataDir, fileName, minLength)
    throw error
  }
  return secret
}
