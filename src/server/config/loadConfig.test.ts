import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ConfigError } from '../errors'
import { ensureAdminKey } from './ensureAdminKey'
import { ensureJwtSecret } from './ensureJwtSecret'
import { loadConfig } from './loadConfig'

const SECRET = 'a-jwt-secret-of-at-least-32-characters'

/** Loads `env` and returns the ConfigError it must throw. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`)
}

/** One sentence that names the variable. */
function expectNamed(env: Record<string, string>, variable: string) {
  const { message } = configError(env)
  expect(message).toContain(variable)
  expect(message).not.toContain('\n')
  expect(message).toMatch(/\.$/)
}

const tempDirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-config-'))
  tempDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

describe('loadConfig', () => {
  test('an empty environment gives the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      env: 'development',
      role: 'all',
      host: '127.0.0.1',
      port: 3000,
      serveWebApp: true,
      dataDir: resolve('./data'),
      databaseUrl: null,
      jwtSecret: null,
      tokenTtlSeconds: 3600,
      sessionTtlSeconds: 604_800,
      nonceTtlSeconds: 600,
      siweDomains: null,
      chainId: null,
      siweChainIds: null,
      chainRpcUrl: null,
      localChain: true,
      deployerPrivateKey: null,
      watcherReorgWindow: 128,
      confirmations: 1,
      jobRetryLimit: 3,
      jobTimeoutSeconds: 300,
      jobConcurrency: 4,
      chainRpcTimeoutSeconds: 15,
      shutdownTimeoutSeconds: 15,
      watcherIntervalMs: 1000,
      watcherMaxBlockRange: 500,
      maxConnections: 10_000,
      maxConnectionsPerUser: 10,
      maxFrameBytes: 65_536,
      maxBodyBytes: 262_144,
      idleTimeoutSeconds: 60,
      tokenExpiryGraceSeconds: 30,
      replayCap: 1000,
      wsMessagesPerSecond: 50,
      sendBufferLimitBytes: 1_048_576,
      authTimeoutSeconds: 0,
      maxAnonymousConnectionsPerIp: 20,
      wsConnectionsPerSecondPerIp: 20,
      wsUserMessagesPerSecond: 100,
      authRatePerMinute: 60,
      adminRatePerSecond: 1000,
      adminBatchMax: 1000,
      channelTokenSecret: null,
      maxSubscriptionsPerConnection: 100,
      maxPublicationBytes: 16_384,
      channelPublishesPerSecond: 10,
      channelHistoryDays: 30,
      presenceTtlSeconds: 30,
      vapidPublicKey: null,
      vapidPrivateKey: null,
      vapidSubject: 'mailto:herald@localhost',
      pushEndpointHosts: [
        'fcm.googleapis.com',
        'updates.push.services.mozilla.com',
        '*.notify.windows.com',
        '*.push.apple.com',
      ],
      pushRetryDelayMs: 1000,
      allowedOrigins: null,
      trustProxy: false,
      adminKey: null,
      logLevel: 'info',
      bus: 'auto',
      redisUrl: null,
      redisChannel: 'herald:bus',
      redisShardedPubsub: false,
    })
  })

  test('empty and blank values count as unset', () => {
    expect(
      loadConfig({ PORT: '', JWT_SECRET: '   ', ROLE: ' ', DATABASE_URL: '', SIWE_CHAIN_IDS: '' }),
    ).toEqual(loadConfig({}))
  })

  test('good values are parsed and trimmed', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      ROLE: ' worker ',
      HOST: '0.0.0.0',
      PORT: ' 0 ',
      DATA_DIR: '/tmp/herald-data',
      DATABASE_URL: 'postgresql://user:pw@db:5432/herald',
      JWT_SECRET: SECRET,
      TOKEN_TTL_SECONDS: '60',
      SIWE_DOMAINS: 'app.example.com, localhost:5173',
      SIWE_CHAIN_IDS: '1, 8453',
      CHAIN_ID: '8453',
      CHAIN_RPC_URL: 'https://rpc.example.com',
      DEPLOYER_PRIVATE_KEY: `0x${'ab'.repeat(32)}`,
      LOCAL_CHAIN: 'false',
      MAX_CONNECTIONS: '5',
      MAX_CONNECTIONS_PER_USER: '5',
      TOKEN_EXPIRY_GRACE_SECONDS: '0',
      HERALD_ADMIN_KEY: 'sixteen-chars-ok',
      LOG_LEVEL: 'silent',
      ALLOWED_ORIGINS: 'https://app.example.com/, HTTP://LOCALHOST:5173, https://x.example.com:443',
      TRUST_PROXY: 'true',
      AUTH_TIMEOUT_SECONDS: '10',
    })
    expect(config).toMatchObject({
      env: 'production',
      role: 'worker',
      host: '0.0.0.0',
      port: 0,
      dataDir: '/tmp/herald-data',
      databaseUrl: 'postgresql://user:pw@db:5432/herald',
      jwtSecret: SECRET,
      tokenTtlSeconds: 60,
      siweDomains: ['app.example.com', 'localhost:5173'],
      siweChainIds: [1, 8453],
      chainId: 8453,
      chainRpcUrl: 'https://rpc.example.com',
      deployerPrivateKey: `0x${'ab'.repeat(32)}`,
      localChain: false,
      maxConnections: 5,
      maxConnectionsPerUser: 5,
      tokenExpiryGraceSeconds: 0,
      adminKey: 'sixteen-chars-ok',
      logLevel: 'silent',
      allowedOrigins: ['https://app.example.com', 'http://localhost:5173', 'https://x.example.com'],
      trustProxy: true,
      authTimeoutSeconds: 10,
    })
    expect(loadConfig({ ALLOWED_ORIGINS: '*' }).allowedOrigins).toEqual(['*'])
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/herald' }).databaseUrl).toBe(
      'postgres://localhost/herald',
    )
    expect(loadConfig({ PORT: '65535' }).port).toBe(65535)
    expect(loadConfig({ DATA_DIR: 'relative/dir' }).dataDir).toBe(resolve('relative/dir'))
  })

  test('production starts with a JWT_SECRET', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET }).jwtSecret).toBe(SECRET)
  })

  const bad: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '3000.5' }],
    ['PORT', { PORT: '1e3' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
    ['JWT_SECRET', { JWT_SECRET: 'too-short' }],
    ['JWT_SECRET', { JWT_SECRET: 'x'.repeat(31) }],
    ['JWT_SECRET', { NODE_ENV: 'production' }],
    ['NODE_ENV', { NODE_ENV: 'staging' }],
    ['ROLE', { ROLE: 'boss' }],
    ['SIWE_CHAIN_IDS', { SIWE_CHAIN_IDS: 'abc' }],
    ['SIWE_CHAIN_IDS', { SIWE_CHAIN_IDS: '1,0' }],
    ['SIWE_CHAIN_IDS', { SIWE_CHAIN_IDS: '1,-5' }],
    ['SIWE_CHAIN_IDS', { SIWE_CHAIN_IDS: ',' }],
    ['SIWE_DOMAINS', { SIWE_DOMAINS: 'https://app.example.com' }],
    ['SIWE_DOMAINS', { SIWE_DOMAINS: 'app.example.com/path' }],
    ['CHAIN_ID', { CHAIN_ID: 'mainnet' }],
    ['CHAIN_ID', { CHAIN_ID: '0' }],
    [
      'CHAIN_RPC_URL',
      { CHAIN_RPC_URL: 'ftp://rpc.example.com', DEPLOYER_PRIVATE_KEY: `0x${'ab'.repeat(32)}` },
    ],
    ['DEPLOYER_PRIVATE_KEY', { CHAIN_RPC_URL: 'http://127.0.0.1:8545' }],
    ['DEPLOYER_PRIVATE_KEY', { DEPLOYER_PRIVATE_KEY: '0x1234' }],
    ['LOCAL_CHAIN', { LOCAL_CHAIN: 'yes' }],
    ['HERALD_ADMIN_KEY', { HERALD_ADMIN_KEY: 'short' }],
    ['HERALD_ADMIN_KEY', { HERALD_ADMIN_KEY: 'x'.repeat(15) }],
    ['MAX_CONNECTIONS', { MAX_CONNECTIONS: '0' }],
    ['MAX_CONNECTIONS_PER_USER', { MAX_CONNECTIONS: '5', MAX_CONNECTIONS_PER_USER: '6' }],
    ['MAX_CONNECTIONS_PER_USER', { MAX_CONNECTIONS_PER_USER: '10001' }],
    ['MAX_CONNECTIONS_PER_USER', { MAX_CONNECTIONS_PER_USER: '0' }],
    ['TOKEN_TTL_SECONDS', { TOKEN_TTL_SECONDS: '0' }],
    ['NONCE_TTL_SECONDS', { NONCE_TTL_SECONDS: 'ten' }],
    ['MAX_FRAME_BYTES', { MAX_FRAME_BYTES: '10' }],
    ['IDLE_TIMEOUT_SECONDS', { IDLE_TIMEOUT_SECONDS: '1' }],
    ['TOKEN_EXPIRY_GRACE_SECONDS', { TOKEN_EXPIRY_GRACE_SECONDS: '-1' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }],
    ['ALLOWED_ORIGINS', { ALLOWED_ORIGINS: 'app.example.com' }],
    ['ALLOWED_ORIGINS', { ALLOWED_ORIGINS: 'https://app.example.com/path' }],
    ['ALLOWED_ORIGINS', { ALLOWED_ORIGINS: 'ws://app.example.com' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'yes' }],
    ['AUTH_TIMEOUT_SECONDS', { AUTH_TIMEOUT_SECONDS: '-1' }],
    ['MAX_ANONYMOUS_CONNECTIONS_PER_IP', { MAX_ANONYMOUS_CONNECTIONS_PER_IP: '0' }],
    ['WS_CONNECTIONS_PER_SECOND_PER_IP', { WS_CONNECTIONS_PER_SECOND_PER_IP: '0' }],
    ['WS_USER_MESSAGES_PER_SECOND', { WS_USER_MESSAGES_PER_SECOND: 'many' }],
    ['AUTH_RATE_PER_MINUTE', { AUTH_RATE_PER_MINUTE: '0' }],
    ['ADMIN_RATE_PER_SECOND', { ADMIN_RATE_PER_SECOND: '1.5' }],
  ]
  for (const [variable, env] of bad) {
    test(`${JSON.stringify(env)} is refused with a sentence naming ${variable}`, () => {
      expectNamed(env, variable)
    })
  }

  test('the message quotes the bad value where it helps', () => {
    expect(configError({ PORT: 'abc' }).message).toContain('abc')
    expect(configError({ PORT: '70000' }).message).toContain('70000')
    expect(configError({ ROLE: 'boss' }).message).toContain('boss')
    // A secret is never echoed back.
    expect(configError({ JWT_SECRET: 'short-secret-value' }).message).not.toContain('short-secret-value')
    expect(configError({ HERALD_ADMIN_KEY: 'short-admin' }).message).not.toContain('short-admin')
  })

  test('a ROLE=server without DEPLOYER_PRIVATE_KEY may point at a chain (it deploys nothing)', () => {
    expect(loadConfig({ ROLE: 'server', CHAIN_RPC_URL: 'http://127.0.0.1:8545' }).chainRpcUrl).toBe(
      'http://127.0.0.1:8545',
    )
  })
})

describe('ensureJwtSecret', () => {
  test('generates a secret into DATA_DIR once, mode 0600, and returns it on every later call', () => {
    const dataDir = join(tempDir(), 'nested', 'data')
    const config = loadConfig({ DATA_DIR: dataDir })
    const secret = ensureJwtSecret(config)
    expect(secret.length).toBeGreaterThanOrEqual(32)
    const file = join(dataDir, 'jwt-secret')
    expect(readFileSync(file, 'utf8').trim()).toBe(secret)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(ensureJwtSecret(config)).toBe(secret)
    // A restart (a fresh config) reads the same file.
    expect(ensureJwtSecret(loadConfig({ DATA_DIR: dataDir }))).toBe(secret)
    // Another DATA_DIR gets its own.
    expect(ensureJwtSecret(loadConfig({ DATA_DIR: tempDir() }))).not.toBe(secret)
  })

  test('a configured JWT_SECRET wins and nothing is written', () => {
    const dataDir = tempDir()
    expect(ensureJwtSecret(loadConfig({ DATA_DIR: dataDir, JWT_SECRET: SECRET }))).toBe(SECRET)
    expect(() => statSync(join(dataDir, 'jwt-secret'))).toThrow()
  })

  test('a kept secret that is too short is refused with a sentence naming its file', () => {
    const dataDir = tempDir()
    writeFileSync(join(dataDir, 'jwt-secret'), 'short\n')
    let error: unknown
    try {
      ensureJwtSecret(loadConfig({ DATA_DIR: dataDir }))
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toContain(join(dataDir, 'jwt-secret'))
  })
})

describe('ensureAdminKey', () => {
  test('development generates one into DATA_DIR; elsewhere only HERALD_ADMIN_KEY enables the routes', () => {
    const dataDir = tempDir()
    const key = ensureAdminKey(loadConfig({ DATA_DIR: dataDir }))
    expect(key).not.toBeNull()
    expect(key!.length).toBeGreaterThanOrEqual(16)
    expect(statSync(join(dataDir, 'admin-key')).mode & 0o777).toBe(0o600)
    expect(ensureAdminKey(loadConfig({ DATA_DIR: dataDir }))).toBe(key)
    expect(ensureAdminKey(loadConfig({ DATA_DIR: tempDir(), NODE_ENV: 'test' }))).toBeNull()
    expect(
      ensureAdminKey(loadConfig({ DATA_DIR: tempDir(), NODE_ENV: 'production', JWT_SECRET: SECRET })),
    ).toBeNull()
    expect(ensureAdminKey(loadConfig({ NODE_ENV: 'test', HERALD_ADMIN_KEY: 'configured-admin-key' }))).toBe(
      'configured-admin-key',
    )
  })
})
