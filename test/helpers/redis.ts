import { RedisClient } from 'bun'

/** The Redis that CI has (and this machine may not): tests that need it are skipped without it. */
export const TEST_REDIS = { host: '127.0.0.1', port: 6379, url: 'redis://127.0.0.1:6379' }

/** Whether Redis at `url` answers PING within about a second and a half. */
export async function redisAnswers(url = TEST_REDIS.url): Promise<boolean> {
  const client = new RedisClient(url, { autoReconnect: false, connectionTimeout: 1000 })
  try {
    const reply = await Promise.race([client.send('PING', []), Bun.sleep(1500).then(() => null)])
    return reply === 'PONG'
  } catch {
    return false
  } finally {
    client.close()
  }
}
