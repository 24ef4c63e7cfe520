import {
  type Address,
  decodeEventLog,
  getAddress,
  type Hex,
  numberToHex,
  type PublicClient,
  parseAbiItem,
  toEventSelector,
} from 'viem'
import type { TokenStandard } from '../../shared/protocol'

const erc20Transfer = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)')
const erc721Transfer = parseAbiItem(
  'event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)',
)
/** Both standards' Transfer has this topic; only the number of indexed topics tells them apart. */
export const TRANSFER_TOPIC = toEventSelector(erc20Transfer)

/** One Transfer log, decoded by the shape of its topics. */
export interface RawTransfer {
  address: Address
  standard: TokenStandard
  from: Address
  to: Address
  /** ERC-20: the amount in base units. */
  value: bigint | null
  /** ERC-721: the token id. */
  tokenId: bigint | null
  txHash: Hex
  logIndex: number
  blockNumber: number
  blockHash: Hex
}

interface RpcLog {
  address: Hex
  topics: Hex[]
  data: Hex
  blockNumber: Hex | null
  blockHash: Hex | null
  transactionHash: Hex | null
  logIndex: Hex | null
  removed?: boolean
}

/**
 * ERC-20's Transfer has three topics (value in data), ERC-721's four (tokenId indexed); anything else with
 * the same selector (a malformed or foreign event) is not a transfer of either.
 */
export function decodeTransfer(log: { topics: readonly Hex[]; data: Hex }) {
  const topics = log.topics as [Hex, ...Hex[]]
  try {
    if (topics.length === 3) {
      const { args } = decodeEventLog({ abi: [erc20Transfer], topics, data: log.data, strict: true })
      return { standard: 'erc20' as const, from: args.from, to: args.to, value: args.value, tokenId: null }
    }
    if (topics.length === 4 && (log.data === '0x' || /^0x0*$/.test(log.data))) {
      const { args } = decodeEventLog({ abi: [erc721Transfer], topics, data: '0x', strict: true })
      return { standard: 'erc721' as const, from: args.from, to: args.to, value: null, tokenId: args.tokenId }
    }
  } catch {
    // A log with the Transfer selector that neither standard can decode.
  }
  return null
}

/**
 * The Transfer logs of `addresses` in [fromBlock, toBlock], in chain order. Asked with the selector only
 * (not either standard's ABI), so logs of both standards come back and are told apart here.
 */
export async function readTransferLogs(
  client: PublicClient,
  params: { addresses: readonly Address[]; fromBlock: number; toBlock: number },
): Promise<RawTransfer[]> {
  if (params.addresses.length === 0) return []
  const logs = (await client.request({
    method: 'eth_getLogs',
    params: [
      {
        address: [...params.addresses],
        topics: [TRANSFER_TOPIC],
        fromBlock: numberToHex(params.fromBlock),
        toBlock: numberToHex(params.toBlock),
      },
    ],
  })) as RpcLog[]
  const transfers: RawTransfer[] = []
  for (const log of logs) {
    // Pending logs have no block yet, and a range request never returns removed ones; both are skipped.
    if (log.removed || !log.blockHash || log.blockNumber === null || log.logIndex === null) continue
    if (!log.transactionHash) continue
    const decoded = decodeTransfer(log)
    if (!decoded) continue
    transfers.push({
      address: getAddress(log.address),
      ...decoded,
      from: getAddress(decoded.from),
      to: getAddress(decoded.to),
      txHash: log.transactionHash,
      logIndex: Number(log.logIndex),
      blockNumber: Number(log.blockNumber),
      blockHash: log.blockHash,
    })
  }
  return transfers.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex)
}
