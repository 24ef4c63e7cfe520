import { Elysia } from 'elysia'
import {
  CreateTokenBodySchema,
  CreateTokenResponseSchema,
  ListTokensResponseSchema,
} from '../../shared/protocol'
import { HeraldError } from '../errors'
import { assertStorable } from '../http/assertStorable'
import { requireSession } from '../http/requireSession'
import { withBody } from '../http/withBody'
import { DEPLOY_TOKEN } from '../jobs/deployToken'
import { listTokens } from '../tokens/listTokens'
import { validateTokenRequest } from '../tokens/validateTokenRequest'
import type { ApiContext } from './context'

export function tokenRoutes(ctx: ApiContext) {
  return new Elysia({ name: 'herald/tokens', prefix: '/api' })
    .derive(async ({ headers }) => ({
      session: await requireSession(ctx.authenticate, headers.authorization),
    }))
    .post(
      '/tokens',
      async ({ session, body, set, request }) => {
        assertStorable({ name: body.name })
        validateTokenRequest(body)
        const input = { name: body.name, symbol: body.symbol, initialSupply: body.initialSupply }
        if (!ctx.hasChain)
          throw new HeraldError(
            'SERVICE_UNAVAILABLE',
            'No chain is configured, so tokens cannot be deployed.',
          )
        const { job } = await ctx.jobs.start({
          type: DEPLOY_TOKEN,
          input,
          data: { ...input, ownerAddress: session.address },
          userId: session.userId,
          byUser: true,
          // The answer to an Idempotency-Key commits with the job it names.
          within: (t, started) => ctx.idempotency.answerWithin(request, t.runner, 202, { jobId: started.id }),
        })
        set.status = 202
        return { jobId: job.id }
      },
      ctx.idempotency.user({
        ...withBody(CreateTokenBodySchema),
        response: { 202: CreateTokenResponseSchema },
        detail: { tags: ['tokens'], summary: 'Deploy an ERC-20 minted to the caller; progress arrives live' },
      }),
    )
    .get(
      '/tokens',
      async ({ session }) => ({ tokens: await listTokens(ctx.db, { userId: session.userId }) }),
      {
        response: ListTokensResponseSchema,
        detail: { tags: ['tokens'], summary: "The caller's tokens, newest first" },
      },
    )
}
