import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  type PublicClient,
  parseAbi,
} from 'viem'

/** A holder's balance of a token (ERC-20 units, or ERC-721 tokens owned); throws when the chain cannot say. */
export type HolderBalance = (token: Address, owner: Address) => Promise<bigint>

// ERC-20 and ERC-721 both answer balanceOf(address) with a uint256: one call serves both standards.
const balanceOfAbi = parseAbi(['function balanceOf(address owner) view returns (uint256)'])

/**
 * Reads `balanceOf` with viem. An address without code, or a contract whose balanceOf reverts, is not a
 * token: its "holders" hold nothing (0), as the contract says of an unknown address (an empty channel). Any
 * other failure (the node is down or slow) is thrown, so a caller can tell "not a holder" from "cannot tell".
 */
export function createHolderBalance(publicClient: PublicClient): HolderBalance {
  return async (token, owner) => {
    try {
      return await publicClient.readContract({
        address: token,
        abi: balanceOfAbi,
        functionName: 'balanceOf',
        args: [owner],
      })
    } catch (error) {
      const notAToken =
        error instanceof BaseError &&
        error.walk(
          (cause) =>
            cause instanceof ContractFunctionZeroDataError || cause instanceof ContractFunctionRevertedError,
        ) !== null
      if (notAToken) return 0n
      throw error
    }
  }
}
