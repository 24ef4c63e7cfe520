import { isAddress } from 'viem'
import type { BroadcastMessage } from '../../shared/protocol'
import {
  broadcast,
  type PublishBatchBody,
  type PublishBody,
  publishNotification,
  publishNotificationBatch,
  publishOnChannel,
} from '../api/adminPublishing'
import { HeraldError } from '../errors'
import { upsertUserByAddress } from '../users/upsertUserByAddress'
import type { HeraldCore } from './openHerald'
import { validated } from './validated'

/**
 * The server API of `herald/server` (docs/protocol.md §9), the same whether Herald is mounted in a host app or
 * serves itself: each call goes through the route's own code on the running composition root (`running()`
 * throws SERVICE_UNAVAILABLE before `start()` and after `stop()`).
 */
export function heraldApi(running: () => HeraldCore) {
  return {
    /** Stores the notification, then pushes it, exactly like `POST /api/admin/notifications`. */
    async notify(params: PublishBody) {
      const ctx = running().ctx
      return publishNotification(ctx, validated('notify', 'AdminPublishBody', params))
    },
    /** Like `POST /api/admin/notifications/batch`: all or nothing. */
    async notifyMany(list: PublishBatchBody | PublishBody[]) {
      const { ctx } = running()
      const body = Array.isArray(list) ? { notifications: list } : list
      const { results } = await publishNotificationBatch(
        ctx,
        validated('notifyMany', 'AdminPublishBatchBody', body),
        ctx.config.adminBatchMax,
      )
      return { results }
    },
    /** An unstored message (a JSON object with a string `type`) to every connection of the user, on every instance. */
    async sendToUser(userId: string, message: { type: string; [key: string]: unknown }) {
      const { hub } = running()
      validated('sendToUser', 'BroadcastMessage', message)
      await hub.sendToUser(String(userId), message as never)
      return hub.getUserConnectionCount(String(userId))
    },
    /** An unstored message to every open connection on every instance, like `POST /api/admin/broadcast`. */
    async sendToAll(message: { type: string; [key: string]: unknown }) {
      const { ctx } = running()
      const { delivered } = await broadcast(
        ctx,
        validated('sendToAll', 'BroadcastMessage', message) as BroadcastMessage,
      )
      return delivered
    },
    /** The user's authenticated connections, on every instance. */
    async getUserConnectionCount(userId: string): Promise<number> {
      return running().userConnections.count(String(userId))
    },
    /** Stores a publication on a channel and pushes it to its subscribers, like the admin channel route. */
    async publish(channel: string, data: unknown) {
      return publishOnChannel(running().ctx, channel, data)
    },
    jobs: {
      /**
       * Starts a job of any registered type (user-startable or not) for `owner` (a user id, or an address whose
       * user is created on first sight), like `POST /api/jobs`: bad input is INVALID_INPUT naming the field.
       */
      async start(type: string, input: unknown, { owner }: { owner: string }) {
        const { ctx } = running()
        return ctx.jobs.start({ type, input, userId: await ownerId(ctx, owner), byUser: false })
      },
      /** The job as `GET /api/jobs/:id` shows it to its owner. */
      async get(id: string, { owner }: { owner: string }) {
        const { ctx } = running()
        return ctx.jobs.get({ id, userId: await ownerId(ctx, owner) })
      },
      /** Cancels the job like `POST /api/jobs/:id/cancel` by its owner. */
      async cancel(id: string, { owner }: { owner: string }) {
        const { ctx } = running()
        return ctx.jobs.cancel({ id, userId: await ownerId(ctx, owner) })
      },
    },
  }
}

/** A user id as it is, or the user of an address (created on first sight, as notify does). */
async function ownerId(ctx: HeraldCore['ctx'], owner: string): Promise<string> {
  if (typeof owner !== 'string' || owner === '')
    throw new HeraldError('INVALID_INPUT', 'owner: give a user id or an address.')
  if (!owner.startsWith('0x')) return owner
  if (!isAddress(owner, { strict: false }))
    throw new HeraldError('INVALID_INPUT', `owner: "${owner}" is not an address.`)
  return String((await upsertUserByAddress(ctx.db, owner)).id)
}
