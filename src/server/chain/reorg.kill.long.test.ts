import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Address } from 'viem'
import {
  ANVIL_KEYS,
  deployDirect,
  fund,
  mine,
  startTestChain,
  type TestChain,
} from '../../../test/helpers/anvil'
import {
  expectToldAsTheChainSays,
  publicClientOf,
  sendTokenTransfer,
  transferStates,
  watchContract,
  watcherAtHead,
} from '../../../test/helpers/chainEvents'
import { DRILL_ADMIN_KEY, processStorage, tempDirs, until } from '../../../test/helpers/drill'
import { type HeraldProcess, spawnHerald } from '../../../test/helpers/heraldProcess'
import { metricValue } from '../../../test/helpers/metrics'
import { type ChainAction, runChainActions } from '../../../test/helpers/reorgScenario'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { newAccount } from '../../../test/helpers/wallet'
import { openDatabase } from '../db/openDatabase'

/**
 * kill -9 of a Herald process while its watcher reads a chain that keeps changing (long tier): transfers and
 * blocks arrive, the process is killed with SIGKILL at once (mid-step, most likely), the chain reorganises
 * while it is down (transfers removed, some put back at other heights, new ones), and it starts again on the
 * same data. Three rounds; then it must hold what a Herald that stayed up holds: the transfers of the final
 * chain in the same states, reorged what the chain dropped, and the promise of docs/chain.md (so the same
 * notifications standing) on the final chain. PGlite
 * (a DATA_DIR) by default, PostgreSQL with HERALD_TEST_DATABASE_URL.
 */

const CONFIRMATIONS = 3

let chain: TestChain
const accounts = [newAccount(), newAccount(), newAccount()]
const dirs = tempDirs('herald-reorg-kill-')
const cleanups: (() => Promise<unknown>)[] = []
const processes: HeraldProcess[] = []

beforeAll(async () => {
  chain = await startTestChain()
  for (const account of accounts) await fund(chain.rpcUrl, account.address)
}, 60_000)

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')))
  for (const cleanup of cleanups.splice(0)) await cleanup()
  dirs.cleanup()
  await chain?.stop()
}, 60_000)

describe(`kill -9 during reorganisations (${usingPostgres() ? 'PostgreSQL' : 'PGlite'})`, () => {
  test('killed mid-read, the chain reorganising while it is down, three times: ends where one that stayed up does', async () => {
    const rpcUrl = chain.rpcUrl
    const client = publicClientOf(rpcUrl)
    const head = async () => Number(await client.getBlockNumber({ cacheTime: 0 }))
    const storage = await processStorage(dirs, cleanups)
    const env = {
      ...storage,
      CHAIN_RPC_URL: rpcUrl,
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
      HERALD_ADMIN_KEY: DRILL_ADMIN_KEY,
      TX_BLOCK_CONFIRMATIONS_REQUIRED: String(CONFIRMATIONS),
      WATCHER_INTERVAL_MS: '50',
      WATCHER_MAX_BLOCK_RANGE: '2',
      ADMIN_RATE_PER_SECOND: '100000',
    }
    const spawn = async (label: string) => {
      // Generous: a loaded machine starts a process slowly, and the drill is about what happens after.
      const herald = await spawnHerald(env, { label, startupTimeoutMs: 120_000 })
      processes.push(herald)
      return herald
    }
    const reference: TestServer = await startTestServer({
      CHAIN_RPC_URL: rpcUrl,
      DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0],
      TX_BLOCK_CONFIRMATIONS_REQUIRED: String(CONFIRMATIONS),
      WATCHER_INTERVAL_MS: '50',
    })
    let herald = await spawn('herald-1')
    try {
      const token: Address = await deployDirect(rpcUrl, ANVIL_KEYS[1], {
        name: 'Killed',
        symbol: 'KIL',
        supply: 1_000_000n,
        recipient: accounts[0]!.address,
      })
      // Both registered before the next block, so both read the token from the same block.
      expect((await watchContract(herald.url, token, 'erc20', DRILL_ADMIN_KEY)).status).toBe(201)
      expect((await watchContract(reference.url, token, 'erc20')).status).toBe(201)
      const fromBlock = (await head()) + 1
      for (const account of accounts.slice(1))
        await sendTokenTransfer(rpcUrl, accounts[0]!, token, account.address, 500n)
      await mine(rpcUrl, 6)
      const floor = await head()
      const scenario = {
        rpcUrl,
        token,
        accounts,
        floor,
        server: () => reference,
        stop: async () => {},
        start: async () => {},
      }
      const rounds: [ChainAction[], ChainAction[]][] = [
        [
          [
            { kind: 'transfer', from: 0, to: 1, amount: 1 },
            { kind: 'mine', blocks: 2 },
            { kind: 'transfer', from: 1, to: 2, amount: 2 },
          ],
          [
            { kind: 'reorg', depth: 3, keep: [true, false], shift: 1 },
            { kind: 'transfer', from: 2, to: 0, amount: 3 },
          ],
        ],
        [
          [
            { kind: 'mine', blocks: 3 },
            { kind: 'transfer', from: 0, to: 2, amount: 4 },
            { kind: 'transfer', from: 2, to: 1, amount: 5 },
          ],
          [
            { kind: 'reorg', depth: 5, keep: [true, true, true], shift: 2 },
            { kind: 'mine', blocks: 1 },
          ],
        ],
        [
          [
            { kind: 'transfer', from: 1, to: 0, amount: 6 },
            { kind: 'mine', blocks: 4 },
          ],
          [{ kind: 'reorg', depth: 5, keep: [false], shift: 0 }],
        ],
      ]
      const log: string[] = []
      const atHead = (target: HeraldProcess) =>
        until(
          'the process to read up to the head',
          async () =>
            (await metricValue(target.url, 'herald_chain_watcher_block')) === (await head())
              ? true
              : undefined,
          60_000,
        )
      for (const [index, [up, down]] of rounds.entries()) {
        log.push(...(await runChainActions(scenario, up)))
        // Killed at once, most likely in the middle of a step (it polls every 50 ms); in the last round only
        // once it has told what it read, so the reorganisation while it is down takes back a told transfer.
        if (index === rounds.length - 1) await atHead(herald)
        expect(await herald.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
        log.push(...(await runChainActions(scenario, down)), 'killed, restarted')
        herald = await spawn(`herald-${index + 2}`)
      }
      await mine(rpcUrl, CONFIRMATIONS)
      const last = await watcherAtHead(reference.database.db, rpcUrl, 30_000)
      await until(
        'the restarted watcher to reach the head',
        async () =>
          (await metricValue(herald.url, 'herald_chain_watcher_block')) === last ? true : undefined,
        30_000,
      )
      expect(await herald.kill('SIGTERM')).toEqual({ code: 0, signal: null })

      const database = await openDatabase(
        storage.DATABASE_URL ? { databaseUrl: storage.DATABASE_URL } : { dataDir: storage.DATA_DIR! },
      )
      try {
        // What is on the final chain is held the same; what the chain dropped is reorged in both (the killed one
        // never saw some of it, which is fine: nothing was told of what it never saw).
        const restarted = await transferStates(database.db, token)
        const stayed = await transferStates(reference.database.db, token)
        const standing = (states: typeof stayed) => states.filter((s) => s.status !== 'reorged')
        expect(standing(restarted)).toEqual(standing(stayed))
        const dropped = new Set(stayed.filter((s) => s.status === 'reorged').map((s) => s.key))
        for (const state of restarted.filter((s) => dropped.has(s.key))) expect(state.status).toBe('reorged')
        await expectToldAsTheChainSays(
          reference.database.db,
          rpcUrl,
          { token, fromBlock, confirmations: CONFIRMATIONS },
          expect,
        )
        const counts = await expectToldAsTheChainSays(
          database.db,
          rpcUrl,
          { token, fromBlock, confirmations: CONFIRMATIONS },
          expect,
        )
        expect({ log, counts }).toMatchObject({ counts: { confirmed: expect.any(Number) } })
        expect(counts.reverts).toBeGreaterThan(0)
      } finally {
        await database.close()
      }
    } catch (error) {
      console.error(processes.map((p) => p.output()).join('\n'))
      throw error
    } finally {
      await reference.stop()
    }
  }, 900_000)
})
