import { signMessage } from 'viem/actions'
import { type HttpApi, type SessionResponse, signInWithEthereum } from '../../../src/client/sdk'
import type { ConnectedWallet } from './wallets'

/** The statement the wallet shows above the message: what signing it does. */
export const SIGN_IN_STATEMENT = 'Sign in to Herald to get your notifications and deploy tokens.'

/** The web app's sign-in: the SDK's EIP-4361 message, signed by the connected wallet. */
export function signInWithWallet(
  api: HttpApi,
  wallet: Pick<ConnectedWallet, 'address' | 'client'>,
): Promise<SessionResponse> {
  return signInWithEthereum(api, {
    address: wallet.address,
    signMessage: (message) => signMessage(wallet.client, { account: wallet.client.account, message }),
    statement: SIGN_IN_STATEMENT,
  })
}
