import { createHash, timingSafeEqual } from 'node:crypto'
import { Elysia } from 'elysia'
import {
  AdminBroadcastBodySchema,
  AdminBroadcastResponseSchema,
  AdminPublishBodySchema,
  AdminPublishResponseSchema,
  type BroadcastMessage,
} from '../../shared/protocol'
import { HeraldError } from '../errors'
import { createNotification } from '../notifications/createNotification'
import { upsertUserByAddress } from '../users/upsertUserByAddress'
import { assertStorable } from './assertStorable'
import type { ApiContext } from './context'
import { createRateLimiter, rateLimited } from './createRateLimiter'

const digest = (value: string) => createHash('sha256').update(value).digest()

/** Publishing from another backend. Without HERALD_ADMIN_KEY the routes do not exist (404). */
export function adminRoutes(ctx: ApiContext) {
  // Not registered at all without a key, so they answer exactly like any unknown route, whatever the body.
  if (!ctx.config.adminKey)
    return new Elysia({ name: 'herald/admin' }) as unknown as ReturnType<typeof keyedAdminRoutes>
  return keyedAdminRoutes(ctx, digest(ctx.config.adminKey))
}

/** The key is checked in transform, which runs before body validation: a caller without it learns nothing. */
function keyedAdminRoutes(ctx: ApiContext, expected: Buffer) {
  const perSecond = ctx.config.adminRatePerSecond
  // One budget per key; there is one key, so one for all publishing on this instance.
  const publishes = createRateLimiter({ ratePerSecond: perSecond, burst: perSecond * 2 })
  return new Elysia({ name: 'herald/admin', prefix: '/api/admin' })
    .onTransform(({ headers }) => {
      const presented = headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? ''
      // Compared as fixed-length digests in constant time, so timing reveals nothing about the key.
      if (!timingSafeEqual(digest(presented), expected))
        throw new HeraldError('UNAUTHORIZED', 'Send "Authorization: Bearer <HERALD_ADMIN_KEY>".')
      const wait = publishes.take('admin')
      if (wait > 0) throw rateLimited('Too many publishing requests; retry later.', wait)
    })
    .post(
      '/notifications',
      async ({ body, set }) => {
        if ((body.userId === undefined) === (body.address === undefined))
          throw new HeraldError('INVALID_INPUT', 'body: give exactly one of "userId" and "address".')
        assertStorable({ type: body.type, title: body.title, message: body.message, data: body.data })
        const userId = body.userId ?? String((await upsertUserByAddress(ctx.db, body.address!)).id)
        const notification = await createNotification(ctx.db, ctx.bus, {
          userId,
          type: body.type,
          title: body.title,
          message: body.message,
          data: body.data,
        })
        set.status = 201
        return { notification, userId }
      },
      {
        body: AdminPublishBodySchema,
        response: { 201: AdminPublishResponseSchema },
        detail: {
          tags: ['admin'],
          summary: 'Store a notification for a user (by id or address) and push it',
        },
      },
    )
    .post(
      '/broadcast',
      async ({ body, set }) => {
        // Large messages travel through a jsonb table on PostgreSQL.
        assertStorable({ message: body.message })
        await ctx.hub.sendToAll(body.message as BroadcastMessage)
        set.status = 202
        return { delivered: ctx.hub.connectionCount }
      },
      {
        body: AdminBroadcastBodySchema,
        response: { 202: AdminBroadcastResponseSchema },
        detail: { tags: ['admin'], summary: 'Send a message to every open connection' },
      },
    )
}
