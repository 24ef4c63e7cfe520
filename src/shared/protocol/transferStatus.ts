// Transfers of watched tokens (docs/protocol.md §8). Plain constants: browsers load this module.

/** The token standards whose Transfer events Herald reads. */
export const TokenStandardValues = ['erc20', 'erc721'] as const
export type TokenStandard = (typeof TokenStandardValues)[number]

/**
 * Where a transfer stands: in a block with fewer than the required confirmations (`included`), final
 * (`confirmed`: its notifications are sent), or removed from the chain by a reorganisation (`reorged`).
 */
export const TransferStatusValues = ['included', 'confirmed', 'reorged'] as const
export type TransferStatus = (typeof TransferStatusValues)[number]

/** The notification sent to both parties when a reorganisation removes a transfer they were told of. */
export const TRANSFER_REVERTED = 'token_transfer_reverted'
