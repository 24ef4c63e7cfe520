import { createECDH, type ECDH, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decrypt } from 'http_ece'
import type { PushFetch } from '../../src/server/push/sendPush'

/** One request the push service received. */
export interface PushRequest {
  path: string
  headers: Record<string, string>
  body: Uint8Array
  status: number
  /** performance.now() when it arrived. */
  at: number
}

/** A scripted answer: a status, or a status with a Retry-After header. */
export type ScriptedAnswer = number | { status: number; retryAfter: string }

export interface TestPushService {
  /** `https://127.0.0.1:<port>`; endpoints are `${origin}/push/<name>`. */
  origin: string
  requests: PushRequest[]
  /** The statuses the next requests to `/push/<name>` get, in order; 201 once they run out. */
  script(name: string, answers: ScriptedAnswer[]): void
  /** Its certificate's file: NODE_EXTRA_CA_CERTS for a Herald process. */
  certFile: string
  /** A fetch that trusts this service's certificate (StartOptions.pushFetch). */
  fetch: PushFetch
  stop(): Promise<void>
}

/**
 * A push service on 127.0.0.1 (RFC 8030's side of Web Push), over TLS with a certificate made for the test by
 * openssl, since Herald only posts to https endpoints. It records every request and answers as scripted.
 */
export function startPushService(): TestPushService {
  const dir = mkdtempSync(join(tmpdir(), 'herald-push-'))
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  const made = Bun.spawnSync([
    'openssl',
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ])
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`)
  const certificate = readFileSync(cert, 'utf8')
  const requests: PushRequest[] = []
  const scripts = new Map<string, ScriptedAnswer[]>()
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    tls: { cert: certificate, key: readFileSync(key, 'utf8') },
    async fetch(request) {
      const path = new URL(request.url).pathname
      const name = path.replace(/^\/push\//, '')
      const answer = scripts.get(name)?.shift() ?? 201
      const status = typeof answer === 'number' ? answer : answer.status
      const at = performance.now()
      requests.push({
        path,
        headers: Object.fromEntries(request.headers),
        body: new Uint8Array(await request.arrayBuffer()),
        status,
        at,
      })
      const headers: Record<string, string> =
        typeof answer === 'number' ? {} : { 'retry-after': answer.retryAfter }
      return new Response(null, { status, headers })
    },
  })
  return {
    origin: `https://127.0.0.1:${server.port}`,
    requests,
    certFile: cert,
    script: (name, answers) => scripts.set(name, [...answers]),
    fetch: (url, init) => fetch(url, { ...init, tls: { ca: certificate } } as RequestInit),
    async stop() {
      await server.stop(true)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A browser's side of a subscription: its own P-256 key pair and auth secret, and the decryption of a push. */
export interface TestBrowserSubscription {
  json: { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } }
  /** The plaintext of an aes128gcm body (RFC 8291), as the browser would decrypt it. */
  decrypt(body: Uint8Array): string
}

export function browserSubscription(endpoint: string): TestBrowserSubscription {
  const ecdh: ECDH = createECDH('prime256v1')
  ecdh.generateKeys()
  const auth = randomBytes(16).toString('base64url')
  return {
    json: {
      endpoint,
      expirationTime: null,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth },
    },
    decrypt: (body) =>
      decrypt(Buffer.from(body), { version: 'aes128gcm', privateKey: ecdh, authSecret: auth }).toString(
        'utf8',
      ),
  }
}
