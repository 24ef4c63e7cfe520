import { Elysia } from 'elysia'
import {
  ArchiveResponseSchema,
  IdParamsSchema,
  ListNotificationsQuerySchema,
  ListNotificationsResponseSchema,
  MarkAllReadResponseSchema,
  MarkReadResponseSchema,
  MarkSeenResponseSchema,
  NotificationTypesResponseSchema,
  PreferencesBodySchema,
  PreferencesSchema,
  UnreadCountResponseSchema,
  UpToSeqBodySchema,
} from '../../shared/protocol'
import { sqlRunner } from '../db/sqlRunner'
import { requireSession } from '../http/requireSession'
import { withBody, withOptionalBody } from '../http/withBody'
import { countInbox, markAll, markRead, readInboxCounts, setArchived } from '../notifications/inboxState'
import { listNotifications, listReceivedTypes } from '../notifications/listNotifications'
import { readPreferences, writePreferences } from '../notifications/preferences'
import type { ApiContext } from './context'

export function notificationRoutes(ctx: ApiContext) {
  const runner = sqlRunner(ctx.db)
  return new Elysia({ name: 'herald/notifications', prefix: '/api/notifications' })
    .derive(async ({ headers }) => ({
      session: await requireSession(ctx.authenticate, headers.authorization),
    }))
    .get(
      '/',
      async ({ session, query }) => {
        const types = query.type === undefined ? [] : Array.isArray(query.type) ? query.type : [query.type]
        const [page, counts] = await Promise.all([
          listNotifications(ctx.db, {
            userId: session.userId,
            limit: query.limit ?? 20,
            before: query.before,
            unreadOnly: query.unread,
            archived: query.archived ?? false,
            types,
          }),
          countInbox(runner, session.userId),
        ])
        return { ...page, ...counts }
      },
      {
        query: ListNotificationsQuerySchema,
        response: ListNotificationsResponseSchema,
        detail: {
          tags: ['notifications'],
          summary: 'Newest first, paged by seq with `before`; the inbox or the archive, by type',
        },
      },
    )
    .get('/unread-count', ({ session }) => readInboxCounts(ctx.db, session.userId), {
      response: UnreadCountResponseSchema,
      detail: { tags: ['notifications'], summary: 'Unread and unseen counts, the latest seq, the version' },
    })
    .get('/types', async ({ session }) => ({ types: await listReceivedTypes(ctx.db, session.userId) }), {
      response: NotificationTypesResponseSchema,
      detail: { tags: ['notifications'], summary: 'Every type the user has received (for preferences)' },
    })
    .post(
      '/read-all',
      ({ session, body }) =>
        markAll(ctx.db, ctx.bus, { userId: session.userId, upToSeq: body.upToSeq, state: 'read' }),
      ctx.idempotency.user({
        ...withOptionalBody(UpToSeqBodySchema),
        response: MarkAllReadResponseSchema,
        detail: { tags: ['notifications'], summary: 'Mark every notification up to a seq read' },
      }),
    )
    .post(
      '/seen',
      ({ session, body }) =>
        markAll(ctx.db, ctx.bus, { userId: session.userId, upToSeq: body.upToSeq, state: 'seen' }),
      ctx.idempotency.user({
        ...withOptionalBody(UpToSeqBodySchema),
        response: MarkSeenResponseSchema,
        detail: { tags: ['notifications'], summary: 'Mark every notification up to a seq seen' },
      }),
    )
    .post(
      '/:id/read',
      ({ session, params }) => markRead(ctx.db, ctx.bus, { userId: session.userId, id: params.id }),
      ctx.idempotency.user({
        params: IdParamsSchema,
        response: MarkReadResponseSchema,
        detail: { tags: ['notifications'], summary: 'Mark one notification read (404 if not yours)' },
      }),
    )
    .post(
      '/:id/archive',
      ({ session, params }) =>
        setArchived(ctx.db, ctx.bus, { userId: session.userId, id: params.id, archived: true }),
      ctx.idempotency.user({
        params: IdParamsSchema,
        response: ArchiveResponseSchema,
        detail: { tags: ['notifications'], summary: 'Archive one notification (404 if not yours)' },
      }),
    )
    .post(
      '/:id/unarchive',
      ({ session, params }) =>
        setArchived(ctx.db, ctx.bus, { userId: session.userId, id: params.id, archived: false }),
      ctx.idempotency.user({
        params: IdParamsSchema,
        response: ArchiveResponseSchema,
        detail: { tags: ['notifications'], summary: 'Bring one notification back to the inbox' },
      }),
    )
}

/** `GET`/`PUT /api/preferences` (docs/protocol.md §7). */
export function preferenceRoutes(ctx: ApiContext) {
  return new Elysia({ name: 'herald/preferences', prefix: '/api/preferences' })
    .derive(async ({ headers }) => ({
      session: await requireSession(ctx.authenticate, headers.authorization),
    }))
    .get('/', ({ session }) => readPreferences(ctx.db, session.userId), {
      response: PreferencesSchema,
      detail: { tags: ['notifications'], summary: 'The user’s notification preferences' },
    })
    .put('/', ({ session, body }) => writePreferences(ctx.db, ctx.bus, { userId: session.userId, body }), {
      ...withBody(PreferencesBodySchema),
      response: PreferencesSchema,
      detail: {
        tags: ['notifications'],
        summary: 'Replace the preferences (types not named follow the default); pushed to every connection',
      },
    })
}
