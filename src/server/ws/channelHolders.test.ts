import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  type Address,
  createPublicClient,
  createWalletClient,
  getAddress,
  http,
  type PrivateKeyAccount,
  parseEther,
} from 'viem'
import { foundry } from 'viem/chains'
import { ANVIL_KEYS, deployDirect, fund, startTestChain, type TestChain } from '../../../test/helpers/anvil'
import { stillOpen, subscribe } from '../../../test/helpers/channels'
import { createManualClock } from '../../../test/helpers/manualClock'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { newAccount, type Session, signIn } from '../../../test/helpers/wallet'
import { connectAuthenticated, connectSocket, type TestSocket } from '../../../test/helpers/wsClient'
import { heraldTokenAbi } from '../../shared/contracts/heraldTokenAbi'

// `holders:<address>` against a real chain (anvil): a holder of the ERC-20 enters, a non-holder is refused
// with FORBIDDEN, and a holder who transfers everything away (a real transfer) is unsubscribed, at the next
// re-check (at most a minute, on the server's clock) or at once when told of the balance change.

const clock = createManualClock()
let anvil: TestChain
let server: TestServer
const sockets: TestSocket[] = []

beforeAll(async () => {
  anvil = await startTestChain()
  // A server without job workers or the transfer watcher: the re-checks alone are under test.
  server = await startTestServer({ CHAIN_RPC_URL: anvil.rpcUrl, ROLE: 'server' }, { clock })
}, 60_000)
afterAll(async () => {
  for (const socket of sockets) socket.close()
  await server?.stop()
  await anvil?.stop()
}, 30_000)

const as = async (session: Session) => {
  const socket = await connectAuthenticated(server.wsUrl, session.token)
  sockets.push(socket)
  return socket
}

/** A fresh ERC-20 whose whole supply `holder` has (and gas to move it): its holders' room has one member. */
async function tokenHeldBy(holder: PrivateKeyAccount): Promise<Address> {
  await fund(anvil.rpcUrl, holder.address)
  return deployDirect(anvil.rpcUrl, ANVIL_KEYS[0], {
    name: 'Room Key',
    symbol: 'KEY',
    supply: parseEther('100'),
    recipient: holder.address,
  })
}

/** A real transfer of `from`'s whole balance of `token` to `to`, mined. */
async function transferAll(token: Address, from: PrivateKeyAccount, to: Address) {
  const publicClient = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) })
  const wallet = createWalletClient({ account: from, chain: foundry, transport: http(anvil.rpcUrl) })
  const balance = await publicClient.readContract({
    address: token,
    abi: heraldTokenAbi,
    functionName: 'balanceOf',
    args: [from.address],
  })
  const hash = await wallet.writeContract({
    address: token,
    abi: heraldTokenAbi,
    functionName: 'transfer',
    args: [to, balance],
  })
  await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
}

describe("holders' rooms", () => {
  test('a holder subscribes and publishes; a non-holder and an anonymous connection get FORBIDDEN', async () => {
    const holder = newAccount()
    const token = await tokenHeldBy(holder)
    const room = `holders:${token}`
    const socket = await as(await signIn(server.url, holder))
    expect(await subscribe(socket, room.toLowerCase(), { answerAs: room })).toEqual({
      type: 'subscribed',
      channel: room,
      seq: 0,
      replayed: 0,
    })
    socket.send({ type: 'publish', channel: room, data: { text: 'gm' }, ref: '1' })
    await socket.next((m) => m.type === 'published')
    const outsider = await as(await signIn(server.url))
    expect(await subscribe(outsider, room)).toMatchObject({ type: 'error', code: 'FORBIDDEN', channel: room })
    const anonymous = connectSocket(server.wsUrl)
    sockets.push(anonymous)
    await anonymous.next('connected')
    expect(await subscribe(anonymous, room)).toMatchObject({ code: 'FORBIDDEN' })
    // An address that is no contract holds nothing: its holders' room is closed to everyone.
    const nowhere = `0x${'de'.repeat(20)}` as const
    expect(
      await subscribe(socket, `holders:${nowhere}`, { answerAs: `holders:${getAddress(nowhere)}` }),
    ).toMatchObject({
      code: 'FORBIDDEN',
    })
    for (const s of [socket, outsider, anonymous]) await stillOpen(s)
  })

  test('a holder who transfers everything away is unsubscribed with FORBIDDEN at the next re-check', async () => {
    const holder = newAccount()
    const token = await tokenHeldBy(holder)
    const room = `holders:${token}`
    const socket = await as(await signIn(server.url, holder))
    expect(await subscribe(socket, room)).toMatchObject({ type: 'subscribed' })
    const heir = newAccount()
    await transferAll(token, holder, heir.address)
    // Still in until the server looks again: a minute at most.
    clock.advance(30_000)
    await stillOpen(socket)
    expect(socket.messages.some((m) => m.type === 'unsubscribed')).toBe(false)
    clock.advance(30_000)
    expect(await socket.next('unsubscribed', 10_000)).toEqual({
      type: 'unsubscribed',
      channel: room,
      reason: 'FORBIDDEN',
    })
    // And cannot come back; the heir holds the tokens now, and enters.
    expect(await subscribe(socket, room)).toMatchObject({ code: 'FORBIDDEN' })
    const heirSocket = await as(await signIn(server.url, heir))
    expect(await subscribe(heirSocket, room)).toMatchObject({ type: 'subscribed' })
  }, 30_000)

  test('told of a balance change (the transfer watcher’s call), the holder is checked at once', async () => {
    const holder = newAccount()
    const token = await tokenHeldBy(holder)
    const room = `holders:${token}`
    const session = await signIn(server.url, holder)
    const tabs = [await as(session), await as(session)]
    for (const tab of tabs) expect(await subscribe(tab, room)).toMatchObject({ type: 'subscribed' })
    await transferAll(token, holder, newAccount().address)
    await server.herald.channels.holderBalanceChanged(token, holder.address)
    for (const tab of tabs)
      expect(await tab.next('unsubscribed', 10_000)).toEqual({
        type: 'unsubscribed',
        channel: room,
        reason: 'FORBIDDEN',
      })
  }, 30_000)
})
