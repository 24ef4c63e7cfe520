import { and, asc, eq } from 'drizzle-orm'
import { type Address, getAddress, type Hex, type PublicClient, parseAbi } from 'viem'
import type { TokenStandard, WatchedContract } from '../../shared/protocol'
import type { Database, Queryable } from '../db/openDatabase'
import { chainCursors, tokens, type WatchedContractRow, watchedContracts } from '../db/schema'
import { HeraldError } from '../errors'

/** The transfer watcher's cursor row: registrations take its lock (see registerWatchedContract). */
export const TRANSFER_CURSOR = 'transfers'

/** A contract the transfer watcher reads, from `fromBlock` on. */
export interface WatchTarget {
  address: Address
  standard: TokenStandard
  symbol: string | null
  decimals: number | null
  fromBlock: number
}

/**
 * Everything the watcher reads on a chain: Herald's own tokens (ERC-20, 18 decimals, from their deployment
 * block) and the contracts registered through the admin API. Herald's entry wins for an address in both.
 */
export async function loadWatchTargets(db: Queryable, chainId: number): Promise<Map<Address, WatchTarget>> {
  const [own, registered] = await Promise.all([
    db
      .select({ address: tokens.address, symbol: tokens.symbol, fromBlock: tokens.deployedBlock })
      .from(tokens)
      .where(eq(tokens.chainId, chainId)),
    db.select().from(watchedContracts).where(eq(watchedContracts.chainId, chainId)),
  ])
  const targets = new Map<Address, WatchTarget>()
  for (const row of registered) {
    const address = row.address as Address
    targets.set(address, {
      address,
      standard: row.standard,
      symbol: row.symbol,
      decimals: row.decimals,
      fromBlock: row.fromBlock,
    })
  }
  for (const row of own) {
    const address = row.address as Address
    targets.set(address, {
      address,
      standard: 'erc20',
      symbol: row.symbol,
      decimals: 18,
      fromBlock: row.fromBlock,
    })
  }
  return targets
}

export const toWatchedContract = (row: WatchedContractRow): WatchedContract => ({
  address: row.address,
  standard: row.standard,
  createdAt: row.createdAt.toISOString(),
})

const metadataAbi = parseAbi([
  'function symbol() view returns (string)',
  'function decimals() view returns (uint8)',
  'function supportsInterface(bytes4 interfaceId) view returns (bool)',
])
/** ERC-721's ERC-165 interface id; every ERC-721 must declare it (EIP-721). */
const ERC721_INTERFACE: Hex = '0x80ac58cd'

/** What a contract answers to a view call, or null when it cannot (no such function, a revert). */
async function tryRead<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read()
  } catch {
    return null
  }
}

/**
 * Registers a contract for the transfer watcher, from the first block after now: the block after the chain's
 * head, or after the watcher's cursor if that is ahead. The cursor row is locked meanwhile, so a watcher pass
 * either commits before (and this contract starts after its range) or sees the contract and reads it.
 * Registering the same contract again with the same standard changes nothing (`created: false`).
 */
export async function registerWatchedContract(
  db: Database,
  client: PublicClient,
  params: { chainId: number; address: string; standard: TokenStandard },
): Promise<{ contract: WatchedContract; created: boolean }> {
  const address = getAddress(params.address)
  const { chainId, standard } = params
  const [existing] = await db
    .select()
    .from(watchedContracts)
    .where(and(eq(watchedContracts.chainId, chainId), eq(watchedContracts.address, address)))
  if (existing) return { contract: sameStandard(existing, standard), created: false }

  const code = await client.getCode({ address })
  if (!code || code === '0x')
    throw new HeraldError('INVALID_INPUT', `body.address: no contract at ${address} on chain ${chainId}.`)
  const isErc721 =
    (await tryRead(() =>
      client.readContract({
        address,
        abi: metadataAbi,
        functionName: 'supportsInterface',
        args: [ERC721_INTERFACE],
      }),
    )) === true
  if (standard === 'erc721' && !isErc721)
    throw new HeraldError(
      'INVALID_INPUT',
      `body.standard: ${address} does not declare ERC-721 (supportsInterface(${ERC721_INTERFACE})).`,
    )
  if (standard === 'erc20' && isErc721)
    throw new HeraldError('INVALID_INPUT', `body.standard: ${address} declares ERC-721, not ERC-20.`)
  const symbol = await tryRead(() =>
    client.readContract({ address, abi: metadataAbi, functionName: 'symbol' }),
  )
  const decimals =
    standard === 'erc20'
      ? await tryRead(() => client.readContract({ address, abi: metadataAbi, functionName: 'decimals' }))
      : null
  const head = Number(await client.getBlockNumber({ cacheTime: 0 }))

  return db.transaction(async (tx) => {
    const [cursor] = await tx
      .select({ block: chainCursors.block })
      .from(chainCursors)
      .where(and(eq(chainCursors.name, TRANSFER_CURSOR), eq(chainCursors.chainId, chainId)))
      .for('update')
    const fromBlock = Math.max(head, cursor?.block ?? head) + 1
    const [row] = await tx
      .insert(watchedContracts)
      .values({
        chainId,
        address,
        standard,
        symbol: symbol?.slice(0, 100) ?? null,
        decimals,
        fromBlock,
      })
      .onConflictDoNothing()
      .returning()
    if (row) return { contract: toWatchedContract(row), created: true }
    // Registered concurrently by another request.
    const [again] = await tx
      .select()
      .from(watchedContracts)
      .where(and(eq(watchedContracts.chainId, chainId), eq(watchedContracts.address, address)))
    return { contract: sameStandard(again!, standard), created: false }
  })
}

function sameStandard(row: WatchedContractRow, standard: TokenStandard): WatchedContract {
  if (row.standard !== standard)
    throw new HeraldError(
      'CONFLICT',
      `${row.address} is already watched as ${row.standard}; delete it first to register it as ${standard}.`,
    )
  return toWatchedContract(row)
}

/** The registered contracts, oldest first (Herald's own tokens are watched without being listed). */
export async function listWatchedContracts(db: Queryable, chainId: number): Promise<WatchedContract[]> {
  const rows = await db
    .select()
    .from(watchedContracts)
    .where(eq(watchedContracts.chainId, chainId))
    .orderBy(asc(watchedContracts.createdAt), asc(watchedContracts.address))
  return rows.map(toWatchedContract)
}

/** Stops reading a registered contract; its stored transfers stay, and keep counting confirmations. */
export async function unwatchContract(db: Queryable, params: { chainId: number; address: string }) {
  const address = getAddress(params.address)
  const deleted = await db
    .delete(watchedContracts)
    .where(and(eq(watchedContracts.chainId, params.chainId), eq(watchedContracts.address, address)))
    .returning({ address: watchedContracts.address })
  if (deleted.length === 0) throw new HeraldError('NOT_FOUND', `${address} is not a watched contract.`)
}
