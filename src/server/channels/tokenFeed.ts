import { getAddress, zeroAddress } from 'viem'
import type { DataUpdateAction, Transfer } from '../../shared/protocol'
import type { EventTransaction } from '../bus/transact'
import type { ChannelStore } from './createChannelStore'

/**
 * The `token:<address>` channel's feed, written inside the transaction that stores each change (section 8):
 * so it has the changes' order and never one that did not commit.
 */
export interface TokenFeed {
  /**
   * A change of a transfer the watcher saw: published as `{action, transfer}`. A transfer that appears or is
   * taken back by a reorganisation also moves balances: each party's `holders:<token>` subscriptions are checked
   * against the chain on every instance once it commits (`holder_check`), not at the next minute's re-check.
   */
  transferChanged(transaction: EventTransaction, transfer: Transfer, action: DataUpdateAction): Promise<void>
  /** A token Herald deployed (the `data_update` of entity `token`): published as `{action, token}`. */
  tokenChanged(
    transaction: EventTransaction,
    token: { address: string },
    action: DataUpdateAction,
  ): Promise<void>
}

export function createTokenFeed(store: ChannelStore): TokenFeed {
  return {
    async transferChanged(transaction, transfer, action) {
      await store.publishIn(transaction, `token:${transfer.token}`, { action, transfer })
      // A new confirmation moves no balance; inclusion and removal do.
      if (action === 'updated') return
      for (const party of new Set([transfer.from, transfer.to])) {
        if (party === zeroAddress) continue
        await transaction.publish({
          kind: 'holder_check',
          token: getAddress(transfer.token),
          address: getAddress(party),
        })
      }
    },
    async tokenChanged(transaction, token, action) {
      await store.publishIn(transaction, `token:${token.address}`, { action, token })
    },
  }
}
