import type { Address, Hex, PrivateKeyAccount } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createSiweMessage } from 'viem/siwe'

export const newAccount = (): PrivateKeyAccount => privateKeyToAccount(generatePrivateKey())

export interface SignInOptions {
  /** Fields of the EIP-4361 message to override (domain, chainId, expirationTime …). */
  message?: Partial<Parameters<typeof createSiweMessage>[0]>
  /** Signs with this account instead (the "signature from another key" case). */
  signer?: PrivateKeyAccount
  nonce?: string
}

export async function getNonce(url: string): Promise<string> {
  const response = await fetch(`${url}/api/auth/nonce`, { method: 'POST' })
  return ((await response.json()) as { nonce: string }).nonce
}

/** Builds and signs a SIWE message for `url`'s server; returns the verify call's raw response. */
export async function trySignIn(url: string, account: PrivateKeyAccount, options: SignInOptions = {}) {
  const signer = options.signer ?? account
  return trySignInAs(url, account.address, (message) => signer.signMessage({ message }), options)
}

/**
 * Like trySignIn, but the message names `address` while `sign` produces the signature: a contract wallet's
 * address with its owner's signature, or an EIP-6492 wrapped one. `options.signer` is ignored.
 */
export async function trySignInAs(
  url: string,
  address: Address,
  sign: (message: string) => Promise<Hex>,
  options: Omit<SignInOptions, 'signer'> = {},
) {
  const config = (await (await fetch(`${url}/api/config`)).json()) as { chainId: number; siweDomain: string }
  const nonce = options.nonce ?? (await getNonce(url))
  const message = createSiweMessage({
    address,
    chainId: config.chainId,
    domain: config.siweDomain,
    nonce,
    uri: `http://${config.siweDomain}/`,
    version: '1',
    statement: 'Sign in to Herald',
    issuedAt: new Date(),
    ...options.message,
  })
  const signature = await sign(message)
  const response = await fetch(`${url}/api/auth/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  })
  return { response, message, signature, nonce }
}

export interface Session {
  token: string
  expiresAt: string
  user: { id: string; address: string }
  account: PrivateKeyAccount
}

/** Signs in with a real signature and returns the session; throws if the server refuses. */
export async function signIn(url: string, account: PrivateKeyAccount = newAccount()): Promise<Session> {
  const { response } = await trySignIn(url, account)
  if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`)
  return { ...((await response.json()) as Omit<Session, 'account'>), account }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
