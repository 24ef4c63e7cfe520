import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { t } from 'elysia'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { until } from '../../../test/helpers/until'
import { signIn } from '../../../test/helpers/wallet'
import { defineJob } from './defineJob'

const CONCURRENCY = 4

// Which jobs are running now, the most that ever ran at once, and the barrier they wait at.
const running = new Set<string>()
const finished = new Set<string>()
let mostAtOnce = 0
let open = false
const waiting = new Set<() => void>()
const openBarrier = () => {
  open = true
  for (const release of waiting) release()
}

/** Waits at the barrier (or until it is cancelled or its process stops). */
const barrierJob = defineJob({
  name: 'barrier',
  input: t.Object({}),
  retries: 0,
  async run(_input, ctx) {
    running.add(ctx.jobId)
    mostAtOnce = Math.max(mostAtOnce, running.size)
    try {
      await new Promise<void>((resolve, reject) => {
        if (open) return resolve()
        waiting.add(resolve)
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
      })
      finished.add(ctx.jobId)
      return {}
    } finally {
      running.delete(ctx.jobId)
    }
  },
})

describe(`JOB_CONCURRENCY=${CONCURRENCY}`, () => {
  let server: TestServer
  let userId: string
  const start = async () =>
    (await server.herald.jobs.start({ type: 'barrier', input: {}, userId, byUser: false })).job.id

  beforeAll(async () => {
    server = await startTestServer({ JOB_CONCURRENCY: String(CONCURRENCY) }, { jobs: [barrierJob] })
    userId = (await signIn(server.url)).user.id
  })
  afterAll(() => server?.stop())

  test('jobs that arrive one at a time all run at once, up to the limit', async () => {
    for (let i = 1; i <= CONCURRENCY; i++) {
      const id = await start()
      await until(`job ${i} of ${CONCURRENCY} running beside the others`, () => running.has(id) || undefined)
    }
    expect(running.size).toBe(CONCURRENCY)
  })

  test('a backlog waits for a free slot, then drains at once (not at the next poll)', async () => {
    // Queued while every slot is taken: none of them may start.
    const queued = [] as string[]
    for (let i = 0; i < 2 * CONCURRENCY; i++) queued.push(await start())
    const startedAt = performance.now()
    openBarrier()
    // Workers fetch again right after each job: the backstop poll (10 s) would be far slower.
    await until('the backlog to drain', () => queued.every((id) => finished.has(id)) || undefined, 8000, 20)
    expect(performance.now() - startedAt).toBeLessThan(8000)
    expect(mostAtOnce).toBe(CONCURRENCY)
  })
})
