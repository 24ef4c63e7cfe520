// A consumer of the packed package, under Bun: an Elysia app of its own with Herald mounted and a job of its own.
// Copied into a temporary project that installed the tarball (test/package/herald.pack.long.test.ts); prints
// "App listening on <url>" once ready, stops on SIGTERM.
import { Elysia, t } from 'elysia'
import { createHerald, defineJob } from 'herald/server'

const countdown = defineJob({
  name: 'countdown',
  input: t.Object({ from: t.Integer({ minimum: 1, maximum: 10 }) }),
  async run({ from }, ctx) {
    for (let left = from - 1; left >= 0; left--)
      await ctx.progress({ step: 'counting', done: from - left, total: from })
    return { counted: from }
  },
})

const herald = createHerald({ config: { SIWE_DOMAINS: 'consumer.example' }, jobs: [countdown] })
const app = new Elysia()
  .get('/own', () => ({ own: true }))
  .use(herald.plugin)
  .post(
    '/kick',
    async ({ body }) => {
      const { notification } = await herald.notify({
        userId: body.userId,
        type: 'kick',
        title: 'Kicked',
        message: 'from the consumer app',
      })
      const { job } = await herald.jobs.start('countdown', { from: 3 }, { owner: body.userId })
      return { notificationId: notification?.id ?? null, jobId: job.id }
    },
    { body: t.Object({ userId: t.String() }) },
  )
await herald.start()
app.listen({ hostname: '127.0.0.1', port: 0 })
console.log(`App listening on http://127.0.0.1:${app.server!.port}`)
process.on('SIGTERM', async () => {
  await herald.stop()
  await app.stop(true)
  process.exit(0)
})
