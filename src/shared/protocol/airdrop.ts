import { t } from 'elysia'

// The airdrop job (docs/protocol.md §5): its input, checked by the server and the web form alike.

export const AIRDROP_MAX_RECIPIENTS = 500
/** A positive amount of whole tokens with at most 18 decimals (`"1"`, `"0.5"`). */
export const AIRDROP_AMOUNT_PATTERN = '^(?:0|[1-9][0-9]{0,58})(?:\\.[0-9]{1,18})?$'
export const ADDRESS_PATTERN = '^0x[0-9a-fA-F]{40}$'

export const AirdropInputSchema = t.Object(
  {
    token: t.String({ pattern: ADDRESS_PATTERN, description: 'one of the caller’s Herald tokens' }),
    recipients: t.Array(
      t.Object(
        {
          address: t.String({ pattern: ADDRESS_PATTERN }),
          amount: t.String({
            pattern: AIRDROP_AMOUNT_PATTERN,
            description: 'whole tokens, up to 18 decimals',
          }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: AIRDROP_MAX_RECIPIENTS },
    ),
  },
  { additionalProperties: false },
)
export type AirdropInput = typeof AirdropInputSchema.static

/** One recipient's outcome, in the job's result (`{ token, recipients: [...] }`). */
export interface AirdropRecipientResult {
  address: string
  amount: string
  txHash: string
  status: 'success' | 'reverted'
}
