import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm'
import { getAddress } from 'viem'
import type { Transfer } from '../../shared/protocol'
import type { Queryable } from '../db/openDatabase'
import { tokenTransfers } from '../db/schema'
import { toTransferView } from './toTransferView'

export interface ListTransfersParams {
  chainId: number
  /** The caller's address: transfers they sent or received. */
  address: string
  token?: string
  /** Only ids below this one. */
  before?: number
  limit: number
}

/** A party's transfers, newest first, whatever their status; nextBefore pages on, null on the last page. */
export async function listTransfers(
  db: Queryable,
  params: ListTransfersParams,
): Promise<{ transfers: Transfer[]; nextBefore: string | null }> {
  const address = getAddress(params.address)
  const conditions: SQL[] = [
    eq(tokenTransfers.chainId, params.chainId),
    or(eq(tokenTransfers.fromAddress, address), eq(tokenTransfers.toAddress, address))!,
  ]
  if (params.token !== undefined) conditions.push(eq(tokenTransfers.tokenAddress, getAddress(params.token)))
  if (params.before !== undefined) conditions.push(lt(tokenTransfers.id, params.before))
  const rows = await db
    .select()
    .from(tokenTransfers)
    .where(and(...conditions))
    .orderBy(desc(tokenTransfers.id))
    .limit(params.limit + 1)
  const page = rows.slice(0, params.limit)
  return {
    transfers: page.map(toTransferView),
    nextBefore: rows.length > params.limit ? String(page[page.length - 1]!.id) : null,
  }
}
