import { getAddress } from 'viem'
import type { Bus } from '../bus/types'

/**
 * A holder's balance of a token changed (the transfer watcher saw a transfer): every instance checks that
 * address's `holders:<token>` subscriptions against the chain now, rather than at the next minute's re-check.
 */
export function announceHolderCheck(bus: Bus, token: string, address: string): Promise<void> {
  return bus.announce({ kind: 'holder_check', token: getAddress(token), address: getAddress(address) })
}
