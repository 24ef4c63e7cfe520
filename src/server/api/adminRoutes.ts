import { createHash, timingSafeEqual } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { Elysia } from 'elysia'
import {
  AddressParamsSchema,
  AdminBroadcastBodySchema,
  AdminBroadcastResponseSchema,
  AdminChannelPublishBodySchema,
  AdminChannelPublishResponseSchema,
  AdminPublishBatchBodySchema,
  AdminPublishBatchResponseSchema,
  AdminPublishBodySchema,
  AdminPublishResponseSchema,
  type BroadcastMessage,
  CHANNEL_TOKEN_TTL_DEFAULT,
  ChannelParamsSchema,
  ChannelTokenBodySchema,
  ChannelTokenResponseSchema,
  ListWatchedContractsResponseSchema,
  WatchContractBodySchema,
  WatchContractResponseSchema,
} from '../../shared/protocol'
import { listWatchedContracts, registerWatchedContract, unwatchContract } from '../chain/watchedContracts'
import { channelOrThrow } from '../channels/channelName'
import { users } from '../db/schema'
import type { SqlRunner } from '../db/sqlRunner'
import { HeraldError } from '../errors'
import { bearerToken } from '../http/bearerToken'
import { createRateLimiter, rateLimited } from '../http/createRateLimiter'
import { withBody } from '../http/withBody'
import type { BatchResults } from '../notifications/storeNotificationBatch'
import { upsertUserByAddress } from '../users/upsertUserByAddress'
import { broadcast, publishNotification, publishNotificationBatch, publishOnChannel } from './adminPublishing'
import type { ApiContext } from './context'

const digest = (value: string) => createHash('sha256').update(value).digest()

/** Most notifications one batch request may hold by default. */
export const DEFAULT_MAX_BATCH = 1000

/** Publishing from another backend. Without HERALD_ADMIN_KEY the routes do not exist (404). */
export function adminRoutes(ctx: ApiContext, options: { maxBatch?: number } = {}) {
  // Not registered at all without a key, so they answer exactly like any unknown route, whatever the body.
  if (!ctx.config.adminKey)
    return new Elysia({ name: 'herald/admin' }) as unknown as ReturnType<typeof keyedAdminRoutes>
  return keyedAdminRoutes(ctx, digest(ctx.config.adminKey), options.maxBatch ?? DEFAULT_MAX_BATCH)
}

const exactlyOneRecipient = (entry: { userId?: string; address?: string }, where: string) => {
  if ((entry.userId === undefined) === (entry.address === undefined))
    throw new HeraldError('INVALID_INPUT', `${where}: give exactly one of "userId" and "address".`)
}

/** The key is checked in transform, which runs before body validation: a caller without it learns nothing. */
function keyedAdminRoutes(ctx: ApiContext, expected: Buffer, maxBatch: number) {
  const perSecond = ctx.config.adminRatePerSecond
  // One budget per key; there is one key, so one for all publishing on this instance. A batch request takes
  // one token like any other: the budget bounds requests, the batch limit bounds the work in one.
  const publishes = createRateLimiter({ ratePerSecond: perSecond, burst: perSecond * 2, now: ctx.clock })
  return new Elysia({ name: 'herald/admin', prefix: '/api/admin' })
    .onTransform(({ headers }) => {
      const presented = bearerToken(headers.authorization) ?? ''
      // Compared as fixed-length digests in constant time, so timing reveals nothing about the key.
      if (!timingSafeEqual(digest(presented), expected))
        throw new HeraldError('UNAUTHORIZED', 'Send "Authorization: Bearer <HERALD_ADMIN_KEY>".')
      const wait = publishes.take('admin')
      if (wait > 0) {
        ctx.metrics.rateLimited.inc({ limit: 'admin_publish' })
        throw rateLimited('Too many publishing requests; retry later.', wait)
      }
    })
    .post(
      '/notifications',
      async ({ body, set }) => {
        const answer = await publishNotification(ctx, body)
        set.status = 201
        return answer
      },
      ctx.idempotency.admin({
        ...withBody(AdminPublishBodySchema),
        response: { 201: AdminPublishResponseSchema },
        detail: {
          tags: ['admin'],
          summary: 'Store a notification for a user (by id or address) and push it',
        },
      }),
    )
    .post(
      '/notifications/batch',
      async ({ body, set, request }) => {
        // The answer to an Idempotency-Key commits with the notifications it reports. Without a key there is
        // nothing to record, and a batch of userIds is then stored by one statement, without a transaction.
        const within = ctx.idempotency.holdsKey(request)
          ? (runner: SqlRunner, stored: BatchResults) =>
              ctx.idempotency.answerWithin(request, runner, 201, { results: stored })
          : undefined
        const answer = await publishNotificationBatch(ctx, body, maxBatch, within)
        set.status = 201
        return answer
      },
      ctx.idempotency.admin({
        ...withBody(AdminPublishBatchBodySchema),
        response: { 201: AdminPublishBatchResponseSchema },
        detail: {
          tags: ['admin'],
          summary:
            'Store notifications for many users (by id or address) at once, all or nothing, and push them',
        },
      }),
    )
    .post(
      '/channels/:channel/publications',
      async ({ params, body, set }) => {
        const answer = await publishOnChannel(ctx, params.channel, body.data)
        set.status = 201
        return answer
      },
      ctx.idempotency.admin({
        ...withBody(AdminChannelPublishBodySchema),
        params: ChannelParamsSchema,
        response: { 201: AdminChannelPublishResponseSchema },
        detail: {
          tags: ['admin', 'channels'],
          summary: 'Store a publication on a channel and push it to its subscribers',
        },
      }),
    )
    .post(
      '/channel-tokens',
      async ({ body, set }) => {
        exactlyOneRecipient(body, 'body')
        const channel = channelOrThrow(body.channel)
        if (channel.namespace !== 'private')
          throw new HeraldError(
            'INVALID_INPUT',
            'body.channel: subscription tokens are for private: channels.',
          )
        const tokens = ctx.channels.tokens
        if (!tokens)
          throw new HeraldError(
            'NOT_FOUND',
            'Subscription tokens are not configured: set CHANNEL_TOKEN_SECRET.',
          )
        let userId = body.userId
        if (userId === undefined) userId = String((await upsertUserByAddress(ctx.db, body.address!)).id)
        else if (
          (
            await ctx.db
              .select({ id: users.id })
              .from(users)
              .where(eq(users.id, Number(userId)))
          ).length === 0
        )
          throw new HeraldError('NOT_FOUND', `User ${userId} does not exist.`)
        // A JWT's exp is whole seconds: the token works until exactly expiresAt, and at least ttlSeconds.
        const expiresAt =
          (Math.ceil(ctx.clock() / 1000) + (body.ttlSeconds ?? CHANNEL_TOKEN_TTL_DEFAULT)) * 1000
        const token = await tokens.sign({ userId, channel: channel.name, expiresAt })
        set.status = 201
        return { token, expiresAt: new Date(expiresAt).toISOString() }
      },
      ctx.idempotency.admin({
        ...withBody(ChannelTokenBodySchema),
        response: { 201: ChannelTokenResponseSchema },
        detail: {
          tags: ['admin', 'channels'],
          summary: 'Issue a subscription token for a private channel to a user (by id or address)',
        },
      }),
    )
    .post(
      '/broadcast',
      async ({ body, set }) => {
        const answer = await broadcast(ctx, body.message as BroadcastMessage)
        set.status = 202
        return answer
      },
      ctx.idempotency.admin({
        ...withBody(AdminBroadcastBodySchema),
        response: { 202: AdminBroadcastResponseSchema },
        detail: { tags: ['admin'], summary: 'Send a message to every open connection' },
      }),
    )
    .post(
      '/watched-contracts',
      async ({ body, set }) => {
        const client = ctx.chainClient
        if (!client)
          throw new HeraldError(
            'SERVICE_UNAVAILABLE',
            'No chain is configured, so no contract can be watched.',
          )
        const { contract, created } = await registerWatchedContract(ctx.db, client, {
          chainId: ctx.chain().chainId,
          address: body.address,
          standard: body.standard,
        })
        set.status = created ? 201 : 200
        return { contract }
      },
      ctx.idempotency.admin({
        ...withBody(WatchContractBodySchema),
        response: { 200: WatchContractResponseSchema, 201: WatchContractResponseSchema },
        detail: {
          tags: ['admin'],
          summary: 'Watch the Transfer events of an ERC-20 or ERC-721, from the next block on',
        },
      }),
    )
    .get(
      '/watched-contracts',
      async () => ({ contracts: await listWatchedContracts(ctx.db, ctx.chain().chainId) }),
      {
        response: ListWatchedContractsResponseSchema,
        detail: {
          tags: ['admin'],
          summary: 'The registered contracts (Herald’s own tokens are always watched)',
        },
      },
    )
    .delete(
      '/watched-contracts/:address',
      async ({ params, set }) => {
        await unwatchContract(ctx.db, { chainId: ctx.chain().chainId, address: params.address })
        set.status = 204
      },
      {
        params: AddressParamsSchema,
        detail: { tags: ['admin'], summary: 'Stop watching a registered contract' },
      },
    )
}
