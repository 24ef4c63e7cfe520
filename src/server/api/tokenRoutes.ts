import { Elysia } from 'elysia'
import {
  CreateTokenBodySchema,
  CreateTokenResponseSchema,
  IdParamsSchema,
  JobSchema,
  ListTokensResponseSchema,
} from '../../shared/protocol'
import { HeraldError } from '../errors'
import { assertStorable } from '../http/assertStorable'
import { requireSession } from '../http/requireSession'
import { withBody } from '../http/withBody'
import { DEPLOY_TOKEN } from '../jobs/deployToken'
import { enqueueJob } from '../jobs/enqueueJob'
import { getJob } from '../jobs/getJob'
import { QUEUES } from '../jobs/startJobBoss'
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
        const boss = ctx.jobs()
        if (!boss)
          throw new HeraldError(
            'SERVICE_UNAVAILABLE',
            'No chain is configured, so tokens cannot be deployed.',
          )
        const result = await enqueueJob(ctx.db, boss, ctx.bus, {
          userId: session.userId,
          queue: QUEUES.deployToken,
          type: DEPLOY_TOKEN,
          data: {
            name: body.name,
            symbol: body.symbol,
            initialSupply: body.initialSupply,
            ownerAddress: session.address,
          },
          // The answer to an Idempotency-Key commits with the job it names.
          within: (t, queued) => ctx.idempotency.answerWithin(request, t.runner, 202, queued),
        })
        set.status = 202
        return result
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
    .get('/jobs/:id', ({ session, params }) => getJob(ctx.db, { userId: session.userId, id: params.id }), {
      params: IdParamsSchema,
      response: JobSchema,
      detail: { tags: ['jobs'], summary: 'One of the caller’s jobs (404 for anyone else’s)' },
    })
}
