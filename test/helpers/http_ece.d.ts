// http_ece (the RFC 8188/8291 reference implementation, a dependency of web-push) ships no types.
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto'
  export function decrypt(
    buffer: Uint8Array,
    params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: string },
  ): Buffer
}
