import { afterEach } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type HeraldServer, startHerald } from '../../src/server/app'
import { loadConfig } from '../../src/server/config/loadConfig'
import type { DatabaseHandle } from '../../src/server/db/openDatabase'
import type { AnyJobDefinition } from '../../src/server/jobs/defineJob'
import { createLogger } from '../../src/server/log/createLogger'
import type { PushFetch } from '../../src/server/push/sendPush'
import type { Clock } from '../../src/server/time/clock'
import { createTestDatabase } from './testDatabase'

export const ADMIN_KEY = 'test-admin-key-0123456789'

export interface TestServer {
  herald: HeraldServer
  url: string
  wsUrl: string
  database: DatabaseHandle
  /** The admin publish route, as another backend would call it. */
  publish(body: Record<string, unknown>): Promise<Response>
  broadcast(message: Record<string, unknown>): Promise<Response>
  stop(): Promise<void>
}

/**
 * A real Herald on a free port with a fresh database. `env` takes the same variables as production, so a test
 * exercises the real configuration path. Pass `database` to restart a server on the same data, and `clock`
 * (milliseconds) to advance the HTTP rate limits by hand instead of waiting for them.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: {
    database?: DatabaseHandle
    keepDatabase?: boolean
    clock?: Clock
    /** Web Push requests go through this fetch (a test push service's certificate). */
    pushFetch?: PushFetch
    /** The app's job definitions (`StartOptions.jobs`). */
    jobs?: AnyJobDefinition[]
  } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-test-'))
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATA_DIR: dataDir,
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
    HERALD_ADMIN_KEY: ADMIN_KEY,
    LOG_LEVEL: process.env.HERALD_TEST_LOG_LEVEL ?? 'silent',
    // No chain unless a test brings one (CHAIN_RPC_URL of a test anvil).
    LOCAL_CHAIN: 'false',
    ...env,
  })
  const database = options.database ?? (await createTestDatabase())
  const herald = await startHerald(config, {
    database,
    logger: createLogger(config.logLevel),
    clock: options.clock,
    pushFetch: options.pushFetch,
    jobs: options.jobs,
  })
  const url = herald.url
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  return {
    herald,
    url,
    wsUrl: `${url.replace('http', 'ws')}/ws`,
    database,
    publish: (body) => post('/api/admin/notifications', body),
    broadcast: (message) => post('/api/admin/broadcast', { message }),
    async stop() {
      await herald.stop()
      if (!options.keepDatabase) await database.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export type StartTestServerOptions = Parameters<typeof startTestServer>[1]

/**
 * For files whose tests each start servers with settings of their own: `serve` starts one, and every server a
 * test started stops when that test ends, so a file does not hold an idle server (and its database) per test
 * until its last one. Call it at the top level of the file.
 */
export function serversPerTest(): (
  env?: Record<string, string>,
  options?: StartTestServerOptions,
) => Promise<TestServer> {
  const servers: TestServer[] = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()))
  }, 30_000)
  return async (env = {}, options = {}) => {
    const server = await startTestServer(env, options)
    servers.push(server)
    return server
  }
}
