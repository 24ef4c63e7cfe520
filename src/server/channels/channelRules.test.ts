import { describe, expect, test } from 'bun:test'
import { channelKey, readChannelName } from '../../shared/protocol/channels'
import { readChannel } from './channelName'
import { createChannelRights } from './channelRights'
import { createChannelTokenService } from './channelTokens'

// The rules of channels without a server: the name grammar, the canonical names Herald sends, subscription
// tokens, and each namespace's right to subscribe.

const TOKEN = '0x5fbdb2315678afecb367f032d93f642f64180aa3'
const CHECKSUMMED = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const alice = { userId: '1', address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' }
const bob = { userId: '2', address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' }
const SECRET = 'channel-token-secret-channel-token-secret'

describe('channel names', () => {
  test.each([
    'public:news',
    'public:a',
    'public:news.eu-west_1:x@y',
    'private:deal-42',
    'private:dao@proposal:7',
    `token:${TOKEN}`,
    `holders:${CHECKSUMMED}`,
    `holders:${TOKEN.toUpperCase().replace('0X', '0x')}`,
    `public:${'x'.repeat(193)}`,
  ])('%s is a channel', (name) => {
    expect(readChannelName(name).ok).toBe(true)
  })

  test.each([
    ['', 'required'],
    ['public:', 'a name after'],
    ['news', 'known namespace'],
    [':news', 'known namespace'],
    ['Public:news', 'known namespace'],
    ['presence:x', 'known namespace'],
    ['public:news feed', 'only'],
    ['public:news/feed', 'only'],
    ['public:ü', 'only'],
    ['public:\u0000', 'only'],
    [`public:${'x'.repeat(194)}`, 'at most 200'],
    ['token:0x1234', '40 hex digits'],
    [`token:${TOKEN}00`, '40 hex digits'],
    [`holders:${TOKEN.slice(2)}`, '40 hex digits'],
    [`token:0x${'g'.repeat(40)}`, '40 hex digits'],
  ])('%j is refused (%s)', (name, reason) => {
    const reading = readChannelName(name)
    expect(reading.ok).toBe(false)
    if (!reading.ok) expect(reading.reason).toContain(reason)
  })

  test('address channels are named with the checksummed address, any case in', () => {
    for (const raw of [
      `token:${TOKEN}`,
      `token:${TOKEN.toUpperCase().replace('0X', '0x')}`,
      `token:${CHECKSUMMED}`,
    ]) {
      const reading = readChannel(raw)
      expect(reading.ok && reading.channel).toEqual({
        name: `token:${CHECKSUMMED}`,
        namespace: 'token',
        address: CHECKSUMMED,
      })
    }
    const reading = readChannel('private:Deal')
    expect(reading.ok && reading.channel.name).toBe('private:Deal')
  })

  test('channelKey makes one key of every spelling of an address channel, and keeps the others as they are', () => {
    expect(channelKey(`holders:${CHECKSUMMED}`)).toBe(channelKey(`holders:${TOKEN}`))
    expect(channelKey('private:Deal')).toBe('private:Deal')
    expect(channelKey('private:Deal')).not.toBe(channelKey('private:deal'))
    expect(channelKey('nope')).toBeNull()
  })
})

describe('subscription tokens', () => {
  const tokens = createChannelTokenService(SECRET)
  const now = Date.parse('2030-01-01T00:00:00Z')

  test('carry sub, channel and exp, and are valid until exp on the given clock', async () => {
    const token = await tokens.sign({ userId: '1', channel: 'private:a', expiresAt: now + 60_000 })
    const [, payload] = token.split('.')
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toMatchObject({
      sub: '1',
      channel: 'private:a',
      exp: (now + 60_000) / 1000,
    })
    expect(await tokens.verify(token, now)).toEqual({
      userId: '1',
      channel: 'private:a',
      expiresAt: now + 60_000,
    })
    expect(await tokens.verify(token, now + 59_000)).not.toBeNull()
    expect(await tokens.verify(token, now + 61_000)).toBeNull()
  })

  test('another secret, a token without exp, alg none and junk are refused', async () => {
    const other = createChannelTokenService(`${SECRET}-other`)
    const foreign = await other.sign({ userId: '1', channel: 'private:a', expiresAt: now + 60_000 })
    expect(await tokens.verify(foreign, now)).toBeNull()
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
    const body = Buffer.from(
      JSON.stringify({ sub: '1', channel: 'private:a', exp: now / 1000 + 60 }),
    ).toString('base64url')
    expect(await tokens.verify(`${header}.${body}.`, now)).toBeNull()
    expect(await tokens.verify('junk', now)).toBeNull()
    expect(await tokens.verify('', now)).toBeNull()
  })
})

describe('rights', () => {
  const tokens = createChannelTokenService(SECRET)
  let now = Date.parse('2030-01-01T00:00:00Z')
  const balances = new Map<string, bigint>([[alice.address, 5n]])
  let chainDown = false
  const rights = createChannelRights({
    tokens,
    balanceOf: async (_token, owner) => {
      if (chainDown) throw new Error('node down')
      return balances.get(owner) ?? 0n
    },
    now: () => now,
    onError: () => {},
  })
  const channel = (name: string) => {
    const reading = readChannel(name)
    if (!reading.ok) throw new Error(reading.reason)
    return reading.channel
  }

  test('public: and token: are open to anyone, anonymous included, with no end', async () => {
    for (const name of ['public:news', `token:${TOKEN}`])
      for (const viewer of [null, alice])
        expect(await rights.check(channel(name), viewer, undefined)).toEqual({
          ok: true,
          right: { expiresAt: null, heldToken: null },
        })
  })

  test("private: needs a signed-in user and a token for exactly that user and channel, until the token's exp", async () => {
    const room = channel('private:room')
    const token = await tokens.sign({
      userId: alice.userId,
      channel: 'private:room',
      expiresAt: now + 30_000,
    })
    expect(await rights.check(room, alice, token)).toEqual({
      ok: true,
      right: { expiresAt: now + 30_000, heldToken: null },
    })
    const refused = async (viewer: typeof alice | null, presented: string | undefined) => {
      const check = await rights.check(room, viewer, presented)
      return check.ok ? null : check.refusal.reason
    }
    expect(await refused(null, token)).toBe('anonymous')
    expect(await refused(alice, undefined)).toBe('forbidden')
    expect(await refused(bob, token)).toBe('forbidden')
    const elsewhere = await tokens.sign({
      userId: alice.userId,
      channel: 'private:other',
      expiresAt: now + 30_000,
    })
    expect(await refused(alice, elsewhere)).toBe('forbidden')
    // The channel is compared as named: another case is another channel.
    const cased = await tokens.sign({
      userId: alice.userId,
      channel: 'private:Room',
      expiresAt: now + 30_000,
    })
    expect(await refused(alice, cased)).toBe('forbidden')
    now += 31_000
    expect(await refused(alice, token)).toBe('forbidden')
  })

  test('private: is closed without a secret', async () => {
    const closed = createChannelRights({ tokens: null, balanceOf: null, now: () => now, onError: () => {} })
    const token = await tokens.sign({
      userId: alice.userId,
      channel: 'private:room',
      expiresAt: now + 30_000,
    })
    const check = await closed.check(channel('private:room'), alice, token)
    expect(!check.ok && check.refusal.message).toContain('CHANNEL_TOKEN_SECRET')
  })

  test('holders: a signed-in holder enters, a non-holder is refused, a chain that cannot answer is unavailable', async () => {
    const room = channel(`holders:${TOKEN}`)
    expect(await rights.check(room, alice, undefined)).toEqual({
      ok: true,
      right: { expiresAt: null, heldToken: CHECKSUMMED },
    })
    const reasonOf = async (viewer: typeof alice | null) => {
      const check = await rights.check(room, viewer, undefined)
      return check.ok ? null : check.refusal.reason
    }
    expect(await reasonOf(bob)).toBe('forbidden')
    expect(await reasonOf(null)).toBe('anonymous')
    chainDown = true
    expect(await reasonOf(alice)).toBe('unavailable')
    await expect(rights.holds(CHECKSUMMED, alice.address)).rejects.toThrow('node down')
    chainDown = false
    balances.set(alice.address, 0n)
    expect(await reasonOf(alice)).toBe('forbidden')
    expect(await rights.holds(CHECKSUMMED, alice.address)).toBe(false)
  })

  test('holders: is closed without a chain', async () => {
    const closed = createChannelRights({ tokens, balanceOf: null, now: () => now, onError: () => {} })
    const check = await closed.check(channel(`holders:${TOKEN}`), alice, undefined)
    expect(!check.ok && check.refusal.reason).toBe('forbidden')
  })
})
