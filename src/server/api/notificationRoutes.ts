import { Elysia } from 'elysia'
import {
  IdParamsSchema,
  ListNotificationsQuerySchema,
  ListNotificationsResponseSchema,
  MarkAllReadResponseSchema,
  MarkReadResponseSchema,
  UnreadCountResponseSchema,
} from '../../shared/protocol'
import { requireSession } from '../http/requireSession'
import { countUnread } from '../notifications/countUnread'
import { getUnreadState } from '../notifications/getUnreadState'
import { listNotifications } from '../notifications/listNotifications'
import { markAllNotificationsRead } from '../notifications/markAllNotificationsRead'
import { markNotificationRead } from '../notifications/markNotificationRead'
import type { ApiContext } from './context'

export function notificationRoutes(ctx: ApiContext) {
  return new Elysia({ name: 'herald/notifications', prefix: '/api/notifications' })
    .derive(async ({ headers }) => ({
      session: await requireSession(ctx.authenticate, headers.authorization),
    }))
    .get(
      '/',
      async ({ session, query }) => {
        const [page, unreadCount] = await Promise.all([
          listNotifications(ctx.db, {
            userId: session.userId,
            limit: query.limit ?? 20,
            before: query.before,
            unreadOnly: query.unread,
          }),
          countUnread(ctx.db, session.userId),
        ])
        return { ...page, unreadCount }
      },
      {
        query: ListNotificationsQuerySchema,
        response: ListNotificationsResponseSchema,
        detail: { tags: ['notifications'], summary: 'Newest first, paged by seq with `before`' },
      },
    )
    .get('/unread-count', ({ session }) => getUnreadState(ctx.db, session.userId), {
      response: UnreadCountResponseSchema,
      detail: { tags: ['notifications'], summary: 'Unread count and the latest seq' },
    })
    .post(
      '/read-all',
      ({ session }) => markAllNotificationsRead(ctx.db, ctx.bus, { userId: session.userId }),
      ctx.idempotency.user({
        response: MarkAllReadResponseSchema,
        detail: { tags: ['notifications'], summary: 'Mark every notification read' },
      }),
    )
    .post(
      '/:id/read',
      ({ session, params }) =>
        markNotificationRead(ctx.db, ctx.bus, { userId: session.userId, id: params.id }),
      ctx.idempotency.user({
        params: IdParamsSchema,
        response: MarkReadResponseSchema,
        detail: { tags: ['notifications'], summary: 'Mark one notification read (404 if not yours)' },
      }),
    )
}
