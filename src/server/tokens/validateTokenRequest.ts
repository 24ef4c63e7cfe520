import { HeraldError } from '../errors'

const MAX_UINT256 = 2n ** 256n - 1n

/** What the schema cannot say: the supply × 10^18 must fit in uint256. */
export function validateTokenRequest(body: { name: string; symbol: string; initialSupply: string }): void {
  if (body.name.trim().length === 0) throw new HeraldError('INVALID_INPUT', 'name: must not be blank.')
  // Characters, not UTF-16 units: an emoji counts once.
  if ([...body.name].length > 64) throw new HeraldError('INVALID_INPUT', 'name: at most 64 characters.')
  if (BigInt(body.initialSupply) * 10n ** 18n > MAX_UINT256)
    throw new HeraldError('INVALID_INPUT', 'initialSupply: times 10^18 it must fit in uint256.')
}
