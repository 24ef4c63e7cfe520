import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Address } from 'viem'
import { fund, mine, reorg, type TestChain } from '../../../test/helpers/anvil'
import {
  expectToldAsTheChainSays,
  publicClientOf,
  sendTokenTransfer,
  storedTransferNotices,
  transferStates,
  watchContract,
  watcherAtHead,
} from '../../../test/helpers/chainEvents'
import { type ChainAction, runChainActions } from '../../../test/helpers/reorgScenario'
import { usingPostgres } from '../../../test/helpers/testDatabase'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { newAccount, type Session } from '../../../test/helpers/wallet'
import { startWatchedToken, type WatchedToken } from '../../../test/helpers/watchedToken'

/**
 * Watchers that stop while the chain reorganises (docs/chain.md), in the fast tier: one restarted on its data
 * after a fork below two transfers must end where one that stayed up ends, and a fixed run of transfers,
 * reorganisations and restarts must end told exactly as the final chain says. The random runs and kill -9
 * are in the long tier (reorg.property.long.test.ts, reorg.kill.long.test.ts). PGlite by default, PostgreSQL
 * with HERALD_TEST_DATABASE_URL.
 */

const CONFIRMATIONS = 3

let chain: TestChain
/** The watcher that stays up. */
let server: TestServer
let env: Record<string, string>
let alice: Session
let bob: Session
/** A HeraldToken deployed outside Herald (to alice), registered on every server as a watched ERC-20. */
let token: Address

const rpc = () => chain.rpcUrl
const head = async () => Number(await publicClientOf(rpc()).getBlockNumber({ cacheTime: 0 }))
const noticesOf = async (target: TestServer, txHash: string) =>
  (await storedTransferNotices(target.database.db)).filter((n) => n.txHash === txHash)

let fixture: WatchedToken

beforeAll(async () => {
  fixture = await startWatchedToken({
    confirmations: CONFIRMATIONS,
    symbol: 'RST',
    supply: 1_000_000n,
    toBob: 1000n,
  })
  ;({ chain, env, server, alice, bob, token } = fixture)
}, 60_000)

afterAll(() => fixture?.stop(), 30_000)

describe(`watchers restarted through reorganisations (${usingPostgres() ? 'PostgreSQL' : 'PGlite'})`, () => {
  test('a watcher restarted in the middle of a reorganisation ends where one that stayed up does', async () => {
    const restarted = await startTestServer(env, { keepDatabase: true })
    let again: TestServer | null = null
    try {
      expect((await watchContract(restarted.url, token, 'erc20')).status).toBe(201)
      const from = (await head()) + 1
      await mine(rpc(), 1)
      const first = await sendTokenTransfer(rpc(), alice.account, token, bob.account.address, 11n)
      await mine(rpc(), CONFIRMATIONS)
      const second = await sendTokenTransfer(rpc(), bob.account, token, alice.account.address, 12n)
      await watcherAtHead(restarted.database.db, rpc())
      await watcherAtHead(server.database.db, rpc())
      expect((await noticesOf(restarted, first.hash)).length).toBe(2)

      // Down while the chain forks below both transfers; the second comes back two blocks lower.
      await restarted.stop()
      await reorg(rpc(), CONFIRMATIONS + 2, [[second.raw, CONFIRMATIONS - 1]])
      await mine(rpc(), 1)
      again = await startTestServer(env, { database: restarted.database, keepDatabase: true })
      await mine(rpc(), CONFIRMATIONS)
      await watcherAtHead(again.database.db, rpc())
      await watcherAtHead(server.database.db, rpc())

      const keys = [first, second].map((s) => `${s.hash}:${s.logIndex}`)
      const states = async (target: TestServer) =>
        (await transferStates(target.database.db, token)).filter((s) => keys.includes(s.key))
      expect(await states(again)).toEqual(await states(server))
      expect((await states(again)).map((s) => s.status)).toEqual(
        first.hash < second.hash ? ['reorged', 'confirmed'] : ['confirmed', 'reorged'],
      )
      const shapes = async (target: TestServer) =>
        (await storedTransferNotices(target.database.db))
          .filter((n) => n.txHash === first.hash || n.txHash === second.hash)
          .map((n) => `${n.txHash}:${n.type}`)
          .sort()
      expect(await shapes(again)).toEqual(await shapes(server))
      await expectToldAsTheChainSays(
        again.database.db,
        rpc(),
        { token, fromBlock: from, confirmations: CONFIRMATIONS },
        expect,
      )
    } finally {
      await (again ?? restarted).stop()
      await restarted.database.close()
    }
  }, 60_000)

  test('a fixed run of transfers, reorganisations and restarts: told exactly as the final chain says', async () => {
    let target = await startTestServer(env, { keepDatabase: true })
    const database = target.database
    try {
      expect((await watchContract(target.url, token, 'erc20')).status).toBe(201)
      const from = (await head()) + 1
      const carol = newAccount()
      await fund(rpc(), carol.address)
      await sendTokenTransfer(rpc(), alice.account, token, carol.address, 100n)
      await mine(rpc(), 6)
      const floor = await head()
      const actions: ChainAction[] = [
        { kind: 'transfer', from: 0, to: 1, amount: 1 },
        { kind: 'transfer', from: 1, to: 2, amount: 2 },
        { kind: 'settle' },
        { kind: 'reorg', depth: 1, keep: [true], shift: 0 },
        { kind: 'mine', blocks: 3 },
        { kind: 'settle' },
        { kind: 'transfer', from: 2, to: 0, amount: 3 },
        { kind: 'restart' },
        { kind: 'reorg', depth: 5, keep: [false, true, true], shift: 1 },
        { kind: 'transfer', from: 0, to: 2, amount: 4 },
        { kind: 'settle' },
        { kind: 'reorg', depth: 2, keep: [true], shift: 1 },
        { kind: 'restart' },
        { kind: 'mine', blocks: 2 },
        { kind: 'reorg', depth: 4, keep: [false], shift: 0 },
      ]
      const scenario = {
        rpcUrl: rpc(),
        token,
        accounts: [alice.account, bob.account, carol],
        floor,
        server: () => target,
        stop: () => target.stop(),
        start: async () => {
          target = await startTestServer(env, { database, keepDatabase: true })
        },
      }
      const log = await runChainActions(scenario, actions)
      await mine(rpc(), CONFIRMATIONS)
      await watcherAtHead(database.db, rpc())
      const counts = await expectToldAsTheChainSays(
        database.db,
        rpc(),
        { token, fromBlock: from, confirmations: CONFIRMATIONS },
        expect,
      )
      expect({ log, reverts: counts.reverts > 0, confirmed: counts.confirmed > 0 }).toMatchObject({
        reverts: true,
        confirmed: true,
      })
    } finally {
      await target.stop()
      await database.close()
    }
  }, 60_000)
})
