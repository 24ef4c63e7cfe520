export interface TokenFormValues {
  name: string
  symbol: string
  initialSupply: string
}

export type TokenFormErrors = Partial<Record<keyof TokenFormValues, string>>

const MAX_UINT256 = 2n ** 256n - 1n
/** The largest whole supply whose value × 10^18 fits in uint256. */
export const MAX_SUPPLY = MAX_UINT256 / 10n ** 18n

/**
 * The server's rules (docs/protocol.md, POST /api/tokens), checked before sending: name 1–64 characters (code
 * points) and not blank; symbol 1–11 of A–Z and 0–9; initialSupply a positive whole number in decimal digits
 * (no leading zeros) whose value × 10^18 fits in uint256.
 */
export function validateTokenForm(values: TokenFormValues): TokenFormErrors {
  const errors: TokenFormErrors = {}

  const length = [...values.name].length
  if (length === 0) errors.name = 'Enter a name for the token.'
  else if (values.name.trim().length === 0) errors.name = 'The name cannot be blank.'
  else if (length > 64) errors.name = `At most 64 characters (this one has ${length}).`
  else if (values.name.includes('\u0000'))
    errors.name = 'The name contains a character that cannot be stored.'

  if (values.symbol.length === 0) errors.symbol = 'Enter a symbol, e.g. MTK.'
  else if (!/^[A-Z0-9]*$/.test(values.symbol)) errors.symbol = 'Only letters A–Z and digits 0–9.'
  else if (values.symbol.length > 11)
    errors.symbol = `At most 11 characters (this one has ${values.symbol.length}).`

  const supply = values.initialSupply
  if (supply.length === 0) errors.initialSupply = 'Enter the initial supply.'
  else if (!/^[0-9]+$/.test(supply))
    errors.initialSupply = 'Whole tokens in digits only (no decimals, signs or separators).'
  else if (/^0+$/.test(supply)) errors.initialSupply = 'The supply must be at least 1.'
  else if (supply.startsWith('0')) errors.initialSupply = 'Remove the leading zeros.'
  else if (supply.length > 78 || BigInt(supply) > MAX_SUPPLY)
    errors.initialSupply = 'Too large: with 18 decimals the supply must fit in 256 bits.'

  return errors
}
