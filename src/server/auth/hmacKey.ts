/**
 * An HS256 key for jose, imported once: given raw bytes, jose imports the HMAC key again on every sign and
 * verify. Session tokens and channel subscription tokens each have their own secret and key.
 */
export function importHmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign', 'verify'],
  )
}
