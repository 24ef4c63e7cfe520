import type { Static } from 'elysia'
import type {
  AdminPublishBatchBodySchema,
  AdminPublishBodySchema,
  BroadcastMessage,
} from '../../shared/protocol'
import { channelOrThrow } from '../channels/channelName'
import { HeraldError } from '../errors'
import { assertStorable } from '../http/assertStorable'
import type { NotificationStore } from '../notifications/createNotificationStore'
import type { BatchEntry } from '../notifications/storeNotificationBatch'
import { upsertUserByAddress } from '../users/upsertUserByAddress'
import type { ApiContext } from './context'

// What the admin routes do once a request is admitted, shared with the library's server API (`createHerald`'s
// notify, notifyMany, publish, sendToAll), so a call in the host's process behaves exactly like the route.

export type PublishBody = Static<typeof AdminPublishBodySchema>
export type PublishBatchBody = Static<typeof AdminPublishBatchBodySchema>
type Within = Parameters<NotificationStore['createMany']>[1]

const exactlyOneRecipient = (entry: { userId?: string; address?: string }, where: string) => {
  if ((entry.userId === undefined) === (entry.address === undefined))
    throw new HeraldError('INVALID_INPUT', `${where}: give exactly one of "userId" and "address".`)
}

/**
 * `POST /api/admin/notifications`: stores the notification (creating the user of an address), then pushes it,
 * unless the user's preferences turned its type off (`suppressed`).
 */
export async function publishNotification(ctx: ApiContext, body: PublishBody) {
  exactlyOneRecipient(body, 'body')
  assertStorable({ type: body.type, title: body.title, message: body.message, data: body.data })
  const userId = body.userId ?? String((await upsertUserByAddress(ctx.db, body.address!)).id)
  // Concurrent publishes share statements and commits (the store's group commit).
  // `publish`, not `create`: the user's preferences may suppress it (docs/protocol.md §7), `critical` overriding.
  const notification = await ctx.notifications.publish({
    userId,
    type: body.type,
    title: body.title,
    message: body.message,
    data: body.data,
    critical: body.critical,
  })
  return notification ? { notification, userId } : { notification, userId, suppressed: 'preference' as const }
}

/** `POST /api/admin/notifications/batch`: all or nothing; `within` runs in the storing transaction. */
export async function publishNotificationBatch(
  ctx: ApiContext,
  body: PublishBatchBody,
  maxBatch: number,
  within?: Within,
) {
  const count = body.notifications?.length ?? body.recipients?.length ?? 0
  if (count > maxBatch)
    throw new HeraldError(
      'INVALID_INPUT',
      `body.${body.notifications ? 'notifications' : 'recipients'}: at most ${maxBatch} per request, got ${count}; split the batch.`,
    )
  const entries: BatchEntry[] = []
  if (body.notifications !== undefined) {
    if (body.recipients !== undefined || body.notification !== undefined)
      throw new HeraldError(
        'INVALID_INPUT',
        'body: give either "notifications", or "recipients" with "notification", not both.',
      )
    for (const [i, entry] of body.notifications.entries()) {
      exactlyOneRecipient(entry, `body.notifications[${i}]`)
      entries.push(entry)
    }
  } else {
    if (body.recipients === undefined || body.notification === undefined)
      throw new HeraldError(
        'INVALID_INPUT',
        'body: give "notifications", or "recipients" with "notification".',
      )
    for (const [i, recipient] of body.recipients.entries()) {
      exactlyOneRecipient(recipient, `body.recipients[${i}]`)
      entries.push({ userId: recipient.userId, address: recipient.address, ...body.notification })
    }
  }
  if (body.notification) {
    const { type, title, message, data } = body.notification
    assertStorable({
      'notification.type': type,
      'notification.title': title,
      'notification.message': message,
      'notification.data': data,
    })
  } else {
    for (const [i, { type, title, message, data }] of entries.entries()) {
      const at = `notifications[${i}]`
      assertStorable({
        [`${at}.type`]: type,
        [`${at}.title`]: title,
        [`${at}.message`]: message,
        [`${at}.data`]: data,
      })
    }
  }
  return { results: await ctx.notifications.createMany(entries, within) }
}

/** `POST /api/admin/channels/:channel/publications`. */
export async function publishOnChannel(ctx: ApiContext, name: string, data: unknown) {
  const channel = channelOrThrow(name)
  const max = ctx.config.maxPublicationBytes
  if (Buffer.byteLength(JSON.stringify(data ?? null)) > max)
    throw new HeraldError(
      'PAYLOAD_TOO_LARGE',
      `body.data: at most ${max} bytes of JSON (MAX_PUBLICATION_BYTES).`,
    )
  assertStorable({ data })
  return { publication: await ctx.channels.store.publish(channel.name, data) }
}

/** `POST /api/admin/broadcast`: unstored, to every open connection; answers this instance's connections. */
export async function broadcast(ctx: ApiContext, message: BroadcastMessage) {
  // Large messages travel through a jsonb table on PostgreSQL.
  assertStorable({ message })
  await ctx.hub.sendToAll(message)
  return { delivered: ctx.hub.connectionCount }
}
