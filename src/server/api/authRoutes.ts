import type { Server } from 'bun'
import { Elysia } from 'elysia'
import {
  NonceResponseSchema,
  SessionResponseSchema,
  UserSchema,
  VerifyBodySchema,
} from '../../shared/protocol'
import { createNonce } from '../auth/createNonce'
import { refreshToken } from '../auth/refreshToken'
import { revokeSession } from '../auth/revokeSession'
import { SignInRejected, verifySignIn } from '../auth/verifySignIn'
import { clientIp } from '../http/clientIp'
import { createRateLimiter, rateLimited } from '../http/createRateLimiter'
import { requireSession } from '../http/requireSession'
import { withBody } from '../http/withBody'
import type { ApiContext } from './context'

export function authRoutes(ctx: ApiContext) {
  // Nonces are rows and verification may call the chain (contract wallets): both routes share one budget per
  // client IP, checked in transform, before the body is validated.
  const perMinute = ctx.config.authRatePerMinute
  const signIns = createRateLimiter({ ratePerSecond: perMinute / 60, burst: perMinute, now: ctx.clock })
  const limitSignIn = ({ request, server }: { request: Request; server: Server<unknown> | null }) => {
    const wait = signIns.take(clientIp(request, server, ctx.config.trustProxy))
    if (wait > 0) {
      ctx.metrics.rateLimited.inc({ limit: 'sign_in' })
      throw rateLimited('Too many sign-in requests from this address; retry later.', wait)
    }
  }
  return new Elysia({ name: 'herald/auth', prefix: '/api' })
    .post(
      '/auth/nonce',
      async () => {
        const { nonce, expiresAt } = await createNonce(ctx.db, {
          ttlSeconds: ctx.config.nonceTtlSeconds,
          now: new Date(ctx.clock()),
        })
        return { nonce, expiresAt: expiresAt.toISOString() }
      },
      {
        transform: limitSignIn,
        response: NonceResponseSchema,
        detail: { tags: ['auth'], summary: 'Issue a single-use SIWE nonce' },
      },
    )
    .post(
      '/auth/verify',
      async ({ body }) => {
        try {
          const result = await verifySignIn(ctx.db, ctx.tokens, ctx.signInPolicy(), {
            ...body,
            now: new Date(ctx.clock()),
          })
          return { token: result.token, expiresAt: result.expiresAt.toISOString(), user: result.user }
        } catch (error) {
          if (error instanceof SignInRejected) ctx.log.debug('sign-in rejected', { reason: error.reason })
          throw error
        }
      },
      {
        ...withBody(VerifyBodySchema, limitSignIn),
        response: SessionResponseSchema,
        detail: { tags: ['auth'], summary: 'Verify a signed EIP-4361 message and open a session' },
      },
    )
    .derive(async ({ headers }) => ({
      session: await requireSession(ctx.authenticate, headers.authorization),
    }))
    .post(
      '/auth/refresh',
      async ({ session }) => {
        const { token, expiresAt } = await refreshToken(ctx.db, ctx.tokens, {
          session,
          tokenTtlSeconds: ctx.config.tokenTtlSeconds,
          now: new Date(ctx.clock()),
        })
        return {
          token,
          expiresAt: expiresAt.toISOString(),
          user: { id: session.userId, address: session.address },
        }
      },
      {
        response: SessionResponseSchema,
        detail: { tags: ['auth'], summary: 'A fresh token for the same session (not past the session end)' },
      },
    )
    .post(
      '/auth/logout',
      async ({ session, set }) => {
        await revokeSession(ctx.db, ctx.bus, { userId: session.userId, sessionId: session.sessionId })
        set.status = 204
      },
      { detail: { tags: ['auth'], summary: 'Revoke the session; its sockets close with 4001' } },
    )
    .get('/me', ({ session }) => ({ id: session.userId, address: session.address }), {
      response: UserSchema,
      detail: { tags: ['auth'], summary: 'The signed-in user' },
    })
}
