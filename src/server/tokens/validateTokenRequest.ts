import { type TokenRequest, tokenRequestErrors } from '../../shared/protocol/tokenRules'
import { HeraldError } from '../errors'

/**
 * The token rules the schema cannot say (a blank name, the name's length in characters, the supply × 10^18
 * fitting in uint256), with the sentences the web form shows: 422 naming the first field that breaks one.
 */
export function validateTokenRequest(body: TokenRequest): void {
  const [first] = Object.entries(tokenRequestErrors(body))
  if (first) throw new HeraldError('INVALID_INPUT', `body.${first[0]}: ${first[1]}`)
}
