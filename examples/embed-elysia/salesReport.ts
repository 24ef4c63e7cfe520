import { t } from 'elysia'
import { defineJob } from 'herald/server'

/** Stands in for a slow query of the shop's own database: one day's orders, after a pause. */
async function ordersOfDay(day: number, signal: AbortSignal): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, 400)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })
  return (day * 7) % 13
}

/**
 * The shop's own job: a sales report over the last `days` days. Each day is a durable step (a retry after a
 * crash skips the days already summed), each reports progress to the user who asked for it, and the result
 * notification is sent once however often the job is retried.
 */
export const salesReport = defineJob({
  name: 'sales_report',
  input: t.Object({ days: t.Integer({ minimum: 1, maximum: 31 }) }),
  userStartable: true,
  retries: 2,
  timeoutSeconds: 60,
  async run({ days }, ctx) {
    let orders = 0
    for (let day = 1; day <= days; day++) {
      orders += await ctx.step(`day-${day}`, () => ordersOfDay(day, ctx.signal))
      await ctx.progress({ step: 'summing', done: day, total: days, message: `day ${day} of ${days}` })
    }
    await ctx.notify({
      key: 'ready',
      type: 'report_ready',
      title: 'Your sales report is ready',
      message: `${orders} orders in the last ${days} days`,
      data: { days, orders },
    })
    return { days, orders }
  },
})
