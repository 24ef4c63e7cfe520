import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { createClient, custom, type LocalAccount } from 'viem'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { newAccount } from '../../../test/helpers/wallet'
import { SIGN_IN_STATEMENT, signInWithWallet } from '../../../web/src/lib/signIn'
import { createHttpApi, signInWithEthereum } from '../../client/sdk'
import { readSiweMessage } from './readSiweMessage'

// Herald's own clients build their sign-in messages with viem's createSiweMessage: what they sign must be exactly
// EIP-4361 for the strict verifier, with the statement and URI they chose. The demo CLI is the SDK with its
// defaults.

setDefaultTimeout(30_000)

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
}, 30_000)
afterAll(async () => {
  await server.stop()
})

const publicApi = () => createHttpApi({ url: server.url, token: () => null })

/** A key that remembers what it was asked to sign, as a wallet shows it to the user. */
function recordingAccount(): { account: LocalAccount; signed: string[] } {
  const key = newAccount()
  const signed: string[] = []
  const account: LocalAccount = {
    ...key,
    signMessage: ({ message }) => {
      if (typeof message !== 'string') throw new Error('the sign-in message is text')
      signed.push(message)
      return key.signMessage({ message })
    },
  }
  return { account, signed }
}

async function siweDomain() {
  return ((await (await fetch(`${server.url}/api/config`)).json()) as { siweDomain: string }).siweDomain
}

test("the SDK's signInWithEthereum, with its defaults (the demo CLI's), signs exactly EIP-4361 and signs in", async () => {
  const { account, signed } = recordingAccount()
  const session = await signInWithEthereum(publicApi(), {
    address: account.address,
    signMessage: (message) => account.signMessage({ message }),
  })
  expect(session.user.address).toBe(account.address)
  expect(signed).toHaveLength(1)
  const reading = readSiweMessage(signed[0]!)
  if (!reading.ok) throw new Error(`not EIP-4361: ${reading.rule}`)
  expect(reading.fields).toMatchObject({
    domain: await siweDomain(),
    address: account.address,
    statement: 'Sign in to Herald',
    uri: `http://${await siweDomain()}/`,
  })
})

test("the SDK's signInWithEthereum with a statement and URI of the caller's signs exactly EIP-4361", async () => {
  const { account, signed } = recordingAccount()
  const uri = `http://${await siweDomain()}/app/sign-in?from=cli#now`
  await signInWithEthereum(publicApi(), {
    address: account.address,
    signMessage: (message) => account.signMessage({ message }),
    statement: "I accept the terms: https://example.com/tos (v2), and it's fine!",
    uri,
  })
  const reading = readSiweMessage(signed[0]!)
  if (!reading.ok) throw new Error(`not EIP-4361: ${reading.rule}`)
  expect(reading.fields.uri).toBe(uri)
})

test("the web app's sign-in (its statement, the wallet's signature) signs exactly EIP-4361 and signs in", async () => {
  const { account, signed } = recordingAccount()
  const client = createClient({
    account,
    // A local account signs by itself: the wallet's RPC is never asked.
    transport: custom({
      request: () => Promise.reject(new Error('no RPC in this test')),
    }),
  })
  const session = await signInWithWallet(publicApi(), { address: account.address, client })
  expect(session.user.address).toBe(account.address)
  expect(signed).toHaveLength(1)
  const reading = readSiweMessage(signed[0]!)
  if (!reading.ok) throw new Error(`not EIP-4361: ${reading.rule}`)
  expect(reading.fields.statement).toBe(SIGN_IN_STATEMENT)
})

test('a statement outside the grammar (a double quote, non-ASCII) is refused like any malformed message', async () => {
  for (const statement of ['Sign in to "Herald"', 'Sign in to Héraut']) {
    const { account, signed } = recordingAccount()
    const attempt = signInWithEthereum(publicApi(), {
      address: account.address,
      signMessage: (message) => account.signMessage({ message }),
      statement,
    })
    await expect(attempt).rejects.toMatchObject({ code: 'SIWE_INVALID' })
    expect(signed[0]).toContain(statement)
  }
})
