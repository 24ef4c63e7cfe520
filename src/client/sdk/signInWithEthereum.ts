import type { Hex } from 'viem'
import { createSiweMessage } from 'viem/siwe'
import type { SessionResponse } from '../../shared/protocol'
import type { HttpApi } from './createHttpApi'

export interface SignInWithEthereumParams {
  address: Hex
  /** Signs the EIP-4361 text (personal_sign); with a wallet, `walletClient.signMessage`. */
  signMessage: (message: string) => Promise<Hex>
  /** Defaults to the server's chain (from /api/config). */
  chainId?: number
  /**
   * Shown by the wallet. EIP-4361 allows one line of printable ASCII without `"`, `%`, `<`, `>`, `\`, `^`, `` ` ``,
   * `{`, `|` and `}`; the server refuses any other statement.
   */
  statement?: string
  /** Defaults to http://<siweDomain>/. */
  uri?: string
}

/** EIP-4361 sign-in: a fresh nonce from the server, the message signed by the wallet, a session back. */
export async function signInWithEthereum(
  api: HttpApi,
  params: SignInWithEthereumParams,
): Promise<SessionResponse> {
  const [config, { nonce }] = await Promise.all([api.auth.config(), api.auth.nonce()])
  const message = createSiweMessage({
    address: params.address,
    chainId: params.chainId ?? config.chainId,
    domain: config.siweDomain,
    nonce,
    uri: params.uri ?? `http://${config.siweDomain}/`,
    version: '1',
    statement: params.statement ?? 'Sign in to Herald',
    issuedAt: new Date(),
  })
  const signature = await params.signMessage(message)
  return api.auth.verify(message, signature)
}
