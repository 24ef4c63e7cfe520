import { Elysia } from 'elysia'
import { ConfigResponseSchema, HealthResponseSchema } from '../../shared/protocol'
import type { ApiContext } from './context'

export function systemRoutes(ctx: ApiContext, options: { withConfig: boolean }) {
  const routes = new Elysia({ name: 'herald/system' })
    .get(
      '/health',
      async ({ set }) => {
        const { db, chain } = await ctx.health()
        if (db !== 'ok') set.status = 503
        return {
          status: db === 'ok' ? ('ok' as const) : ('unavailable' as const),
          db,
          chain,
          role: ctx.config.role,
        }
      },
      {
        response: { 200: HealthResponseSchema, 503: HealthResponseSchema },
        detail: { tags: ['system'], summary: 'Liveness of the server, its database and its chain' },
      },
    )
    .get(
      '/metrics',
      async () =>
        new Response(await ctx.metrics.registry.metrics(), {
          headers: { 'content-type': ctx.metrics.registry.contentType },
        }),
      { detail: { tags: ['system'], summary: 'Prometheus metrics' } },
    )
  if (!options.withConfig) return routes
  return routes.get(
    '/api/config',
    () => {
      const { chainId, rpcUrl, deployerAddress } = ctx.chain()
      return {
        chainId,
        rpcUrl,
        deployerAddress,
        siweDomain: ctx.signInPolicy().domains[0]!,
        version: ctx.version,
      }
    },
    {
      response: ConfigResponseSchema,
      detail: {
        tags: ['system'],
        summary: 'What a browser needs to reach the chain and build a SIWE message',
      },
    },
  )
}
