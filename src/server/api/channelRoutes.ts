import { Elysia } from 'elysia'
import {
  ChannelHistoryQuerySchema,
  ChannelHistoryResponseSchema,
  type ChannelMember,
  ChannelParamsSchema,
  ChannelPresenceResponseSchema,
  hasMembers,
} from '../../shared/protocol'
import { type ChannelName, channelOrThrow } from '../channels/channelName'
import { HeraldError } from '../errors'
import { requireSession } from '../http/requireSession'
import type { ApiContext } from './context'

/**
 * The right to read a channel over HTTP, the same as subscribing to it: anonymous for `public:` and `token:`;
 * a Bearer session otherwise (401 without one), with the `Channel-Token` header for `private:` (403 without the
 * right, 503 when the chain cannot be read for `holders:`).
 */
async function readRight(ctx: ApiContext, channel: ChannelName, headers: Record<string, string | undefined>) {
  let viewer: ChannelMember | null = null
  if (channel.namespace === 'private' || channel.namespace === 'holders') {
    const session = await requireSession(ctx.authenticate, headers.authorization)
    viewer = { userId: session.userId, address: session.address }
  }
  const check = await ctx.channels.rights.check(channel, viewer, headers['channel-token'])
  if (check.ok) return
  const { reason, message } = check.refusal
  throw new HeraldError(
    reason === 'anonymous' ? 'UNAUTHORIZED' : reason === 'unavailable' ? 'SERVICE_UNAVAILABLE' : 'FORBIDDEN',
    message,
  )
}

/** A channel's history and presence (docs/protocol.md §4). */
export function channelRoutes(ctx: ApiContext) {
  return new Elysia({ name: 'herald/channels', prefix: '/api/channels' })
    .get(
      '/:channel/publications',
      async ({ params, query, headers }) => {
        const channel = channelOrThrow(params.channel)
        await readRight(ctx, channel, headers)
        return ctx.channels.store.history(channel.name, { before: query.before, limit: query.limit ?? 20 })
      },
      {
        params: ChannelParamsSchema,
        query: ChannelHistoryQuerySchema,
        response: ChannelHistoryResponseSchema,
        detail: {
          tags: ['channels'],
          summary: "A channel's publications, newest first, paged by seq with `before`",
        },
      },
    )
    .get(
      '/:channel/presence',
      async ({ params, headers }) => {
        const channel = channelOrThrow(params.channel)
        await readRight(ctx, channel, headers)
        const { presence } = ctx.channels
        await presence.settled()
        const counts = presence.counts(channel.name)
        if (!hasMembers(channel.namespace)) return { channel: channel.name, ...counts }
        return { channel: channel.name, ...counts, members: presence.members(channel.name) }
      },
      {
        params: ChannelParamsSchema,
        response: ChannelPresenceResponseSchema,
        detail: { tags: ['channels'], summary: 'Who is on a channel, over every server instance' },
      },
    )
}
