import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { getAddress } from 'viem'
import { publicClientOf, sendTokenTransfer } from '../../../test/helpers/chainEvents'
import { stillOpen, subscribe } from '../../../test/helpers/channels'
import { until } from '../../../test/helpers/drill'
import { bearer, newAccount, signIn } from '../../../test/helpers/wallet'
import { startWatchedToken, type WatchedToken } from '../../../test/helpers/watchedToken'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import type { Publication } from '../../shared/protocol'
import { heraldTokenAbi } from '../chain/heraldToken'

// The token feed end to end, with the real transfer watcher on anvil (no manual call, no clock moved): every
// transfer it sees is on `token:<address>`, a holder who sends everything away leaves the holders' room with
// FORBIDDEN as soon as the watcher commits the transfer, and a token Herald deploys is on its channel too.

const E18 = 10n ** 18n
let fixture: WatchedToken
const sockets: TestSocket[] = []

beforeAll(async () => {
  fixture = await startWatchedToken({
    confirmations: 1,
    symbol: 'FEED',
    supply: 100n * E18,
    toBob: 10n * E18,
  })
}, 90_000)
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await fixture?.stop()
}, 30_000)

const open = async (token?: string) => {
  const socket = token
    ? await connectAuthenticated(fixture.server.wsUrl, token)
    : connectSocket(fixture.server.wsUrl)
  sockets.push(socket)
  if (!token) await socket.next('connected')
  return socket
}

const publications = (socket: TestSocket, channel: string) =>
  socket.messages.filter(
    (m): m is Publication & { type: 'publication' } =>
      m.type === 'publication' && (m as { channel?: string }).channel === channel,
  )

describe('the token feed, from the transfer watcher', () => {
  test('a holder who sends everything away is unsubscribed with FORBIDDEN once the watcher sees it', async () => {
    const { token, alice, bob, chain } = fixture
    const feed = `token:${token}`
    const room = `holders:${token}`
    const visitor = await open()
    expect(await subscribe(visitor, feed)).toMatchObject({ type: 'subscribed' })
    const tabs = [await open(alice.token), await open(alice.token)]
    for (const tab of tabs) expect(await subscribe(tab, room)).toMatchObject({ type: 'subscribed' })
    const bobTab = await open(bob.token)
    expect(await subscribe(bobTab, room)).toMatchObject({ type: 'subscribed' })

    const everything = await publicClientOf(chain.rpcUrl).readContract({
      address: token,
      abi: heraldTokenAbi,
      functionName: 'balanceOf',
      args: [alice.account.address],
    })
    const sent = await sendTokenTransfer(chain.rpcUrl, alice.account, token, bob.account.address, everything)
    for (const tab of tabs)
      expect(await tab.next('unsubscribed', 10_000)).toEqual({
        type: 'unsubscribed',
        channel: room,
        reason: 'FORBIDDEN',
      })
    // The visitor saw the transfer on the token's channel (Herald's own publication: no `from`).
    const seen = await visitor.next(
      (m) =>
        m.type === 'publication' &&
        (m as { data?: { transfer?: { txHash?: string } } }).data?.transfer?.txHash === sent.hash,
      10_000,
    )
    expect(seen).toMatchObject({
      channel: feed,
      data: {
        action: 'created',
        transfer: {
          token,
          from: alice.account.address,
          to: bob.account.address,
          value: everything.toString(),
          status: 'confirmed',
        },
      },
    })
    expect((seen as { from?: unknown }).from).toBeUndefined()
    // bob received: he stays; alice cannot come back.
    await stillOpen(bobTab)
    expect(bobTab.messages.some((m) => m.type === 'unsubscribed')).toBe(false)
    expect(await subscribe(tabs[0]!, room)).toMatchObject({ type: 'error', code: 'FORBIDDEN' })
  }, 30_000)

  test('every transfer the watcher sees reaches the feed, in chain order, exactly once', async () => {
    const { token, bob, chain } = fixture
    const feed = `token:${token}`
    const visitor = await open()
    expect(await subscribe(visitor, feed)).toMatchObject({ type: 'subscribed' })
    const carol = newAccount()
    const hashes: string[] = []
    for (let i = 1; i <= 3; i++)
      hashes.push(
        (await sendTokenTransfer(chain.rpcUrl, bob.account, token, carol.address, BigInt(i) * E18)).hash,
      )
    const hashOf = (p: Publication) => (p.data as { transfer: { txHash: string } }).transfer.txHash
    const seen = await until(
      'the three transfers on the feed',
      () => {
        const all = publications(visitor, feed)
        return all.filter((p) => hashes.includes(hashOf(p))).length === 3 ? all : undefined
      },
      10_000,
    )
    expect(seen.map(hashOf).filter((hash) => hashes.includes(hash))).toEqual(hashes)
    const seqs = seen.map((p) => p.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
  }, 30_000)

  test("a token Herald deploys is announced on its channel (the token's data_update)", async () => {
    const { server } = fixture
    const session = await signIn(server.url, newAccount())
    const owner = await open(session.token)
    const response = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { ...bearer(session.token), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Feed Token', symbol: 'FDT', initialSupply: '1000' }),
    })
    expect(response.status).toBe(202)
    const update = (await owner.next(
      (m) => m.type === 'data_update' && (m as { entity?: string }).entity === 'token',
      30_000,
    )) as unknown as { data: { address: string } }
    const address = getAddress(update.data.address)
    // Stored before it was sent: a later visitor gets it by replay, first on the channel (the watcher follows
    // the token only once it is recorded, so the mint comes after, once the watcher has read its block).
    const visitor = await open()
    const answer = await subscribe(visitor, `token:${address}`, { since: 0 })
    expect(answer).toMatchObject({ type: 'subscribed' })
    expect((answer as { replayed: number }).replayed).toBeGreaterThanOrEqual(1)
    expect(publications(visitor, `token:${address}`)[0]).toMatchObject({
      seq: 1,
      data: { action: 'created', token: { address, symbol: 'FDT', ownerAddress: session.user.address } },
    })
    // And the mint reaches the channel like any transfer.
    await until(
      'the mint on the token channel',
      () =>
        publications(visitor, `token:${address}`).some(
          (p) => (p.data as { transfer?: { to?: string } }).transfer?.to === session.user.address,
        ) || undefined,
      15_000,
    )
  }, 60_000)
})
