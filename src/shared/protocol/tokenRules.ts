// The rules of a token request (`POST /api/tokens`, docs/protocol.md §1), in one place: the HTTP schema takes
// its bounds and patterns from here, the server's validator and the web form their checks and sentences.
// Plain constants and functions, no schema library: the web app loads this module in the browser.

export interface TokenRequest {
  name: string
  symbol: string
  initialSupply: string
}
export type TokenRequestErrors = Partial<Record<keyof TokenRequest, string>>

export const MAX_UINT256 = 2n ** 256n - 1n
/** Every HeraldToken has 18 decimals: a supply of n whole tokens is n × 10^18 units. */
export const TOKEN_DECIMALS = 18
/** The largest whole supply whose value × 10^18 fits in uint256. */
export const MAX_TOKEN_SUPPLY = MAX_UINT256 / 10n ** BigInt(TOKEN_DECIMALS)

/** Counted in characters (code points), not UTF-16 units: an emoji counts once. */
export const TOKEN_NAME_MAX_CHARS = 64
/** Every name within TOKEN_NAME_MAX_CHARS fits in this many UTF-16 units (a code point takes at most two). */
export const TOKEN_NAME_MAX_UTF16 = 2 * TOKEN_NAME_MAX_CHARS
export const TOKEN_SYMBOL_MAX = 11
export const TOKEN_SYMBOL_PATTERN = `^[A-Z0-9]{1,${TOKEN_SYMBOL_MAX}}$`
/** Decimal digits, no leading zero; the length bound only keeps BigInt cheap (the uint256 check is exact). */
export const TOKEN_SUPPLY_PATTERN = `^[1-9][0-9]{0,${MAX_UINT256.toString().length - 1}}$`

/** The supply in the token's smallest units, as minted. */
export const supplyUnits = (initialSupply: string): bigint =>
  BigInt(initialSupply) * 10n ** BigInt(TOKEN_DECIMALS)

function nameError(name: string): string | undefined {
  const length = [...name].length
  if (length === 0) return 'A name is required.'
  if (name.trim().length === 0) return 'The name cannot be blank.'
  if (length > TOKEN_NAME_MAX_CHARS)
    return `At most ${TOKEN_NAME_MAX_CHARS} characters (this one has ${length}).`
  if (name.includes('\u0000')) return 'The name contains a character that cannot be stored.'
  return undefined
}

function symbolError(symbol: string): string | undefined {
  if (symbol.length === 0) return 'A symbol is required, e.g. MTK.'
  if (!/^[A-Z0-9]*$/.test(symbol)) return 'Only letters A–Z and digits 0–9.'
  if (symbol.length > TOKEN_SYMBOL_MAX)
    return `At most ${TOKEN_SYMBOL_MAX} characters (this one has ${symbol.length}).`
  return undefined
}

function supplyError(supply: string): string | undefined {
  if (supply.length === 0) return 'The initial supply is required.'
  if (!/^[0-9]+$/.test(supply)) return 'Whole tokens in digits only (no decimals, signs or separators).'
  if (/^0+$/.test(supply)) return 'The supply must be at least 1.'
  if (supply.startsWith('0')) return 'No leading zeros.'
  if (!new RegExp(TOKEN_SUPPLY_PATTERN).test(supply) || BigInt(supply) > MAX_TOKEN_SUPPLY)
    return `Too large: with ${TOKEN_DECIMALS} decimals the supply must fit in 256 bits.`
  return undefined
}

/** What is wrong with each field of a token request, in a sentence; empty when the request is valid. */
export function tokenRequestErrors(values: TokenRequest): TokenRequestErrors {
  const errors: TokenRequestErrors = {}
  const name = nameError(values.name)
  if (name) errors.name = name
  const symbol = symbolError(values.symbol)
  if (symbol) errors.symbol = symbol
  const initialSupply = supplyError(values.initialSupply)
  if (initialSupply) errors.initialSupply = initialSupply
  return errors
}
