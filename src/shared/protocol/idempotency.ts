// Publishing exactly once (docs/protocol.md §6): the header names and the rule for a key, in one place for
// the server, the SDK, herald/admin and the web app. Plain constants, no schema library: browsers load it.

/** The request header naming a publishing or job-starting request, so a retry of it runs once. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key'
/** The response header of an answer given again for a key already used (`true`). */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed'
export const IDEMPOTENCY_KEY_MAX = 255
/** 1–255 printable ASCII characters (space to `~`). */
export const IDEMPOTENCY_KEY_PATTERN = `^[\\x20-\\x7E]{1,${IDEMPOTENCY_KEY_MAX}}$`
const pattern = new RegExp(IDEMPOTENCY_KEY_PATTERN)

export const isIdempotencyKey = (value: string): boolean => pattern.test(value)

/**
 * A fresh key: 128 random bits in hex. `crypto.getRandomValues` rather than `randomUUID`, which browsers
 * only offer on secure origins (a web app served over plain HTTP on a LAN address has none).
 */
export function createIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}
