import type { TokenRow } from '../db/schema'

export function toTokenView(row: TokenRow) {
  return {
    id: String(row.id),
    address: row.address,
    name: row.name,
    symbol: row.symbol,
    initialSupply: row.initialSupply,
    ownerAddress: row.ownerAddress,
    deploymentTx: row.deploymentTx,
    createdAt: row.createdAt.toISOString(),
  }
}
export type TokenView = ReturnType<typeof toTokenView>
