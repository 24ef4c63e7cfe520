import { Elysia } from 'elysia'
import {
  PushSubscriptionBodySchema,
  PushSubscriptionResponseSchema,
  PushUnsubscribeBodySchema,
  VapidPublicKeyResponseSchema,
} from '../../shared/protocol'
import { HeraldError } from '../errors'
import { requireSession } from '../http/requireSession'
import { withBody } from '../http/withBody'
import { deleteSubscription, saveSubscription } from '../push/subscriptions'
import type { ApiContext } from './context'

const pushOff = () =>
  new HeraldError(
    'NOT_FOUND',
    'Web Push is not configured on this server (set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY).',
  )

/** Web Push (docs/protocol.md §7): the VAPID key and the browser's subscriptions. */
export function pushRoutes(ctx: ApiContext) {
  return (
    new Elysia({ name: 'herald/push', prefix: '/api/push' })
      .get(
        '/vapid-public-key',
        () => {
          if (!ctx.vapidPublicKey) throw pushOff()
          return { key: ctx.vapidPublicKey }
        },
        {
          response: VapidPublicKeyResponseSchema,
          detail: { tags: ['push'], summary: 'The applicationServerKey for PushManager.subscribe' },
        },
      )
      // After the public key: the subscription routes need a session, checked before their bodies.
      .derive(async ({ headers }) => ({
        session: await requireSession(ctx.authenticate, headers.authorization),
      }))
      .post(
        '/subscriptions',
        async ({ session, body, set }) => {
          if (!ctx.vapidPublicKey) throw pushOff()
          const saved = await saveSubscription(ctx.db, {
            userId: session.userId,
            subscription: body,
            allowedHosts: ctx.config.pushEndpointHosts,
          })
          set.status = 201
          return saved
        },
        {
          ...withBody(PushSubscriptionBodySchema),
          response: { 201: PushSubscriptionResponseSchema },
          detail: {
            tags: ['push'],
            summary: 'Store a browser PushSubscription (the same endpoint again keeps its id)',
          },
        },
      )
      .delete(
        '/subscriptions',
        async ({ session, body, set }) => {
          await deleteSubscription(ctx.db, session.userId, body.endpoint)
          set.status = 204
        },
        {
          ...withBody(PushUnsubscribeBodySchema),
          detail: { tags: ['push'], summary: 'Forget a subscription (204, an unknown endpoint included)' },
        },
      )
  )
}
