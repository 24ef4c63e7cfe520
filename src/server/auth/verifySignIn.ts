import { eq } from 'drizzle-orm'
import { type Hex, isAddressEqual, isHex, type PublicClient, recoverMessageAddress } from 'viem'
import { validateSiweMessage } from 'viem/siwe'
import type { Database } from '../db/openDatabase'
import { sessions, siweNonces, users } from '../db/schema'
import { HeraldError } from '../errors'
import { upsertUserByAddress } from '../users/upsertUserByAddress'
import { type TokenService, tokenExpiry } from './createTokenService'
import { readSiweMessage } from './readSiweMessage'

export interface SignInPolicy {
  domains: string[]
  chainIds: number[]
  sessionTtlSeconds: number
  tokenTtlSeconds: number
  /** Set when a chain is configured: contract wallets (EIP-1271, EIP-6492) are verified against it. */
  publicClient: PublicClient | null
}

export interface SignInResult {
  token: string
  expiresAt: Date
  user: { id: string; address: string }
}

/** Every rejection looks the same from outside, so a caller learns nothing about which check failed. */
export class SignInRejected extends HeraldError {
  readonly reason: string
  constructor(reason: string) {
    super(
      'SIWE_INVALID',
      'The sign-in message or its signature is not valid; request a new nonce and sign again.',
    )
    this.reason = reason
  }
}

/**
 * EIP-4361 verification: the message must be exactly the grammar; its nonce is consumed whatever the outcome (a
 * malformed message's too); then domain, chain, time, and the signature.
 */
export async function verifySignIn(
  db: Database,
  tokens: TokenService,
  policy: SignInPolicy,
  params: { message: string; signature: string; now?: Date },
): Promise<SignInResult> {
  const now = params.now ?? new Date()
  const reading = readSiweMessage(params.message)
  const nonce = reading.ok ? reading.fields.nonce : reading.nonce
  const [consumed] = nonce
    ? await db
        .delete(siweNonces)
        .where(eq(siweNonces.nonce, nonce))
        .returning({ expiresAt: siweNonces.expiresAt })
    : []
  if (!reading.ok) throw new SignInRejected(`not an EIP-4361 message: ${reading.rule}`)
  const fields = reading.fields
  if (!consumed) throw new SignInRejected('unknown or used nonce')
  if (consumed.expiresAt.getTime() <= now.getTime()) throw new SignInRejected('expired nonce')
  if (!policy.domains.includes(fields.domain)) throw new SignInRejected(`domain ${fields.domain} not allowed`)
  if (!policy.chainIds.includes(fields.chainId))
    throw new SignInRejected(`chain ${fields.chainId} not allowed`)
  let uriHost: string
  try {
    uriHost = new URL(fields.uri).host
  } catch {
    throw new SignInRejected('uri does not parse')
  }
  if (uriHost !== fields.domain) throw new SignInRejected('uri is not on the domain')
  if (!validateSiweMessage({ message: fields, domain: fields.domain, nonce: fields.nonce, time: now }))
    throw new SignInRejected('expired or not yet valid')
  if (!isHex(params.signature) || params.signature.length < 4)
    throw new SignInRejected('signature is not hex')
  const signature = params.signature as Hex
  const address = fields.address

  if (!(await recoversTo(params.message, signature, address))) {
    // Not an EOA signature of this address: a contract wallet's, if a chain can tell.
    if (!policy.publicClient) throw new SignInRejected('signature does not recover the address')
    let valid = false
    try {
      valid = await policy.publicClient.verifyMessage({ address, message: params.message, signature })
    } catch {
      valid = false
    }
    if (!valid) throw new SignInRejected('contract wallet signature rejected')
  }

  const user = await upsertUserByAddress(db, address)
  const sessionExpiresAt = new Date(now.getTime() + policy.sessionTtlSeconds * 1000)
  const [session] = await db
    .insert(sessions)
    .values({ userId: user.id, expiresAt: sessionExpiresAt })
    .returning({ id: sessions.id })
  await db.update(users).set({ lastSignInAt: now }).where(eq(users.id, user.id))
  const expiresAt = tokenExpiry(now, policy.tokenTtlSeconds, sessionExpiresAt)
  const token = await tokens.sign({
    userId: String(user.id),
    sessionId: session!.id,
    address: user.address,
    expiresAt: expiresAt.getTime(),
  })
  return { token, expiresAt, user: { id: String(user.id), address: user.address } }
}

async function recoversTo(message: string, signature: Hex, address: Hex): Promise<boolean> {
  try {
    return isAddressEqual(await recoverMessageAddress({ message, signature }), address)
  } catch {
    return false
  }
}
