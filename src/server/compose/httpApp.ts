import { join } from 'node:path'
import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import { adminRoutes } from '../api/adminRoutes'
import { authRoutes } from '../api/authRoutes'
import { channelRoutes } from '../api/channelRoutes'
import type { ApiContext } from '../api/context'
import { jobRoutes } from '../api/jobRoutes'
import { notificationRoutes, preferenceRoutes } from '../api/notificationRoutes'
import { pushRoutes } from '../api/pushRoutes'
import { systemRoutes } from '../api/systemRoutes'
import { tokenRoutes } from '../api/tokenRoutes'
import { transferRoutes } from '../api/transferRoutes'
import { webRoutes } from '../api/webRoutes'
import type { AuthenticatedSession } from '../auth/authenticateToken'
import { errorHandler } from '../http/errorHandler'
import { bodyTooLarge, limitBody } from '../http/limitBody'
import { apiOrigins, createOriginCheck } from '../http/origins'
import { securityHeaders, webAppPolicy } from '../http/securityHeaders'
import type { Hub } from '../ws/createHub'
import { wsRoute } from '../ws/wsRoute'
import { apiDescription, jobInputSchemas } from './openapiJobs'
import { websocketOptions } from './websocketOptions'

/**
 * The HTTP side of a server: the error handler, security headers and body limit for every request, then the
 * routes. A worker serves only /health and /metrics; the API, its description, /ws and the web app live on
 * servers (`withApi`).
 */
export function buildHttpApp(params: {
  ctx: ApiContext
  hub: Hub
  authenticate(token: string): Promise<AuthenticatedSession | null>
  /** The `?token=` of a WebSocket upgrade (the hub's own check: sessions from memory); default `authenticate`. */
  authenticateSocket?(token: string): Promise<AuthenticatedSession | null>
  withApi: boolean
  /** Serves the built web app at / (SERVE_WEB_APP). */
  withWebApp: boolean
  /** The built web app (default: web/dist). */
  webDir?: string
  rpcUrl: string | null
}) {
  const { ctx } = params
  const { config } = ctx
  const checkOrigin = createOriginCheck(config.allowedOrigins, config.trustProxy)
  const app = new Elysia({
    // Bun answers bodies over its own limit with a bare 413 (not the contract's body), so its limit is only a
    // backstop far above ours; the request hook below and limitBody answer first.
    serve: { maxRequestBodySize: 1024 ** 3 },
    // WebSocket options only take effect server-wide, here (or in the host app: createHerald's plugin).
    websocket: websocketOptions(config),
  })
    .use(errorHandler(ctx.log))
    .use(securityHeaders())
    .onRequest((context) => {
      // No route reads the body of a GET (a socket upgrade is one): nothing to limit.
      if (context.request.method === 'GET') return
      const declared = context.request.headers.get('content-length')
      if (declared !== null) {
        if (Number(declared) > config.maxBodyBytes) throw bodyTooLarge(config.maxBodyBytes)
      } else if (context.request.body) {
        // A streamed (chunked) body declares no length: it is cut off while it is read.
        context.request = limitBody(context.request, config.maxBodyBytes)
      }
    })
    .use(apiOrigins(checkOrigin))
    .use(systemRoutes(ctx, { withConfig: params.withApi }))
  if (!params.withApi) return app
  const api = app
    .use(
      openapi({
        path: '/openapi',
        documentation: {
          info: { title: 'Herald', version: ctx.version, description: apiDescription(ctx) },
          components: {
            securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
            // The input of every job type this server runs, Herald's and the app's (`defineJob`).
            schemas: jobInputSchemas(ctx),
          },
        },
      }),
    )
    .use(authRoutes(ctx))
    .use(notificationRoutes(ctx))
    .use(preferenceRoutes(ctx))
    .use(pushRoutes(ctx))
    .use(tokenRoutes(ctx))
    .use(jobRoutes(ctx))
    .use(transferRoutes(ctx))
    .use(channelRoutes(ctx))
    .use(adminRoutes(ctx, { maxBatch: config.adminBatchMax }))
    .use(
      wsRoute(params.hub, params.authenticateSocket ?? params.authenticate, {
        connectionsPerSecondPerIp: config.wsConnectionsPerSecondPerIp,
        trustProxy: config.trustProxy,
        checkOrigin,
        onRateLimited: () => ctx.metrics.rateLimited.inc({ limit: 'ws_upgrade' }),
        now: ctx.clock,
      }),
    )
  if (!params.withWebApp) return api
  return api.use(
    webRoutes(params.webDir ?? join(import.meta.dir, '../../../web/dist'), webAppPolicy(params.rpcUrl)),
  )
}

export type HttpApp = ReturnType<typeof buildHttpApp>
