import { Elysia } from 'elysia'
import {
  ChainInfoResponseSchema,
  ListTransfersQuerySchema,
  ListTransfersResponseSchema,
} from '../../shared/protocol'
import { requireSession } from '../http/requireSession'
import { listTransfers } from '../transfers/listTransfers'
import type { ApiContext } from './context'

/** Transfers of watched tokens (docs/protocol.md §8) and how Herald counts them final. */
export function transferRoutes(ctx: ApiContext) {
  return new Elysia({ name: 'herald/transfers', prefix: '/api' })
    .get(
      '/chain',
      () => ({
        chainId: ctx.chain().chainId,
        requiredConfirmations: ctx.config.confirmations,
        reorgWindow: ctx.config.watcherReorgWindow,
      }),
      {
        response: ChainInfoResponseSchema,
        detail: {
          tags: ['transfers'],
          summary: 'Confirmations a transfer needs, and how deep a reorganisation Herald follows',
        },
      },
    )
    .derive(async ({ headers }) => ({
      session: await requireSession(ctx.authenticate, headers.authorization),
    }))
    .get(
      '/transfers',
      ({ session, query }) =>
        listTransfers(ctx.db, {
          chainId: ctx.chain().chainId,
          address: session.address,
          token: query.token,
          before: query.before === undefined ? undefined : Number(query.before),
          limit: query.limit ?? 20,
        }),
      {
        query: ListTransfersQuerySchema,
        response: ListTransfersResponseSchema,
        detail: {
          tags: ['transfers'],
          summary: 'Transfers the caller sent or received, newest first, with their status',
        },
      },
    )
}
