import { Elysia, t } from 'elysia'
import { createHerald } from 'herald/server'
import { salesReport } from './salesReport'

/**
 * An existing shop app with routes of its own that mounts Herald: `/ws`, `/api/*` and `/health` are Herald's,
 * on the shop's port; the shop notifies its buyers and starts its own job from its own routes.
 */
export function createShop(config: Record<string, string | undefined>) {
  const herald = createHerald({ config, jobs: [salesReport] })
  let nextOrder = 1
  const app = new Elysia()
    .get('/', () => ({ shop: 'open' }))
    .use(herald.plugin)
    .post(
      '/orders',
      async ({ body, set }) => {
        const orderId = nextOrder++
        // Stored, then pushed to every tab of the buyer (by wallet address; the user is created if new).
        const { notification } = await herald.notify({
          address: body.buyer,
          type: 'order_placed',
          title: 'Order received',
          message: `${body.item} is on its way`,
          data: { orderId },
        })
        set.status = 201
        // null when the buyer turned this type off in their preferences: nothing stored, nothing sent.
        return { orderId, notificationId: notification?.id ?? null }
      },
      { body: t.Object({ buyer: t.String(), item: t.String() }) },
    )
    .post(
      '/reports',
      // Started by the shop itself (say, a nightly schedule) on behalf of a user, who sees its progress live.
      ({ body }) => herald.jobs.start('sales_report', { days: body.days }, { owner: body.owner }),
      { body: t.Object({ owner: t.String(), days: t.Integer() }) },
    )
  return { app, herald }
}
