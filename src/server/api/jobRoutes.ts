import { Elysia } from 'elysia'
import {
  IdParamsSchema,
  JobResponseSchema,
  JobSchema,
  ListJobsQuerySchema,
  ListJobsResponseSchema,
  StartJobBodySchema,
} from '../../shared/protocol'
import { requireSession } from '../http/requireSession'
import { withBody } from '../http/withBody'
import type { ApiContext } from './context'

/** Jobs (docs/protocol.md §5): list, start a user-startable type, one job, cancel. */
export function jobRoutes(ctx: ApiContext) {
  return new Elysia({ name: 'herald/jobs', prefix: '/api' })
    .derive(async ({ headers }) => ({
      session: await requireSession(ctx.authenticate, headers.authorization),
    }))
    .get('/jobs', ({ session, query }) => ctx.jobs.list({ userId: session.userId, query }), {
      query: ListJobsQuerySchema,
      response: ListJobsResponseSchema,
      detail: { tags: ['jobs'], summary: "The caller's jobs, newest first, a page at a time" },
    })
    .post(
      '/jobs',
      async ({ session, body, set, request }) => {
        const started = await ctx.jobs.start({
          type: body.type,
          input: body.input,
          userId: session.userId,
          byUser: true,
          // The answer to an Idempotency-Key commits with the job it names.
          within: (t, job) => ctx.idempotency.answerWithin(request, t.runner, 202, { job }),
        })
        set.status = 202
        return started
      },
      ctx.idempotency.user({
        ...withBody(StartJobBodySchema),
        response: { 202: JobResponseSchema },
        detail: { tags: ['jobs'], summary: 'Start a job of a user-startable type; progress arrives live' },
      }),
    )
    .get('/jobs/:id', ({ session, params }) => ctx.jobs.get({ userId: session.userId, id: params.id }), {
      params: IdParamsSchema,
      response: JobSchema,
      detail: { tags: ['jobs'], summary: 'One of the caller’s jobs (404 for anyone else’s)' },
    })
    .post(
      '/jobs/:id/cancel',
      async ({ session, params, set }) => {
        const cancelled = await ctx.jobs.cancel({ userId: session.userId, id: params.id })
        set.status = 202
        return cancelled
      },
      {
        params: IdParamsSchema,
        response: { 202: JobResponseSchema },
        detail: { tags: ['jobs'], summary: 'Cancel a pending or running job (409 once it has ended)' },
      },
    )
}
