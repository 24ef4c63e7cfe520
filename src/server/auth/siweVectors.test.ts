import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { PrivateKeyAccount } from 'viem'
import { captureStderr } from '../../../test/helpers/captureStderr'
import { startTestServer, type TestServer } from '../../../test/helpers/testServer'
import { getNonce, newAccount, trySignIn } from '../../../test/helpers/wallet'
import negativeVectors from '../../../test/vectors/siwe/parsing_negative.json'
import positiveVectors from '../../../test/vectors/siwe/parsing_positive.json'
import { readSiweMessage } from './readSiweMessage'

// The EIP-4361 reference implementation's parsing vectors (test/vectors/siwe/README.md names their source), each
// adapted to a running Herald: a nonce it issued, current times (in the vector's own format), a fresh key (its
// address in the vector's own letter case). Herald is configured as the vectors' site: their domains and chain
// ids are its own, so the rest of each message stays as published, the one defect it is about included.

setDefaultTimeout(30_000)

const DOMAINS = [
  'service.org',
  'example.com',
  'localhost:3030',
  'www.tally.xyz',
  '127.0.0.1',
  '127.0.0.1:8080',
  '127.0.0.1:4361',
  'localhost:8080',
]

/** A well-formed message of the vectors' site (the rest comes from test/helpers/wallet.ts). */
const AS_THE_VECTORS = { domain: 'service.org', uri: 'https://service.org/', chainId: 1 }

let server: TestServer
beforeAll(async () => {
  // Debug, to read the reason of each refusal; captured (see loggedReasons), so the run's output stays clean.
  const started = await loggedReasons(() =>
    startTestServer({
      // Every vector signs in once or twice: the sign-in rate limit has tests of its own.
      AUTH_RATE_PER_MINUTE: '10000',
      LOG_LEVEL: 'debug',
      SIWE_DOMAINS: DOMAINS.join(','),
      SIWE_CHAIN_IDS: '1,4',
    }),
  )
  server = started.result
}, 30_000)
afterAll(async () => {
  await loggedReasons(() => server.stop())
})

/** The vectors' nonces, replaced by one the server issued. A vector whose defect is its nonce keeps its own. */
const VECTOR_NONCES = ['12341234', '32891757', '32891756', '15050747']
const TIME_LABELS = { 'Issued At': 0, 'Expiration Time': 10 * 60_000, 'Not Before': -60_000 } as const

/** `instant` written the way `like` is: with or without fractional seconds, in UTC or at `like`'s offset. */
function restamp(like: string, instant: number): string {
  const fraction = /\.\d+/.test(like)
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(like)
  const minutes = offset ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) : 0
  let text = new Date(instant + minutes * 60_000).toISOString().slice(0, -1)
  if (!fraction) text = text.replace(/\.\d{3}$/, '')
  return offset ? `${text}${offset[0]}` : `${text}Z`
}

function adapt(vector: string, nonce: string, account: PrivateKeyAccount): string {
  let text = vector
  for (const old of VECTOR_NONCES) text = text.replaceAll(`Nonce: ${old}`, `Nonce: ${nonce}`)
  text = text.replace(/0x[0-9a-fA-F]{40}/g, (address) =>
    address === address.toLowerCase() ? account.address.toLowerCase() : account.address,
  )
  const now = Date.now()
  return text
    .split('\n')
    .map((line) => {
      for (const [label, shift] of Object.entries(TIME_LABELS)) {
        const value = line.startsWith(`${label}: `) ? line.slice(label.length + 2) : null
        // A time that is not RFC 3339 is the vector's defect: it stays.
        if (value && /^\d{4}-\d{2}-\d{2}T/.test(value)) return `${label}: ${restamp(value, now + shift)}`
      }
      return line
    })
    .join('\n')
}

/** Adapts `vector` (then `edit`s it), signs it with a fresh key, sends it: the response and the reasons logged. */
async function attempt(vector: string, edit: (message: string) => string = (m) => m) {
  const account = newAccount()
  // Fresh addresses are mixed-case but for about one in 10^8: then the lower-case vector would not differ.
  expect(account.address).not.toBe(account.address.toLowerCase() as typeof account.address)
  const nonce = await getNonce(server.url)
  const message = edit(adapt(vector, nonce, account))
  const signature = await account.signMessage({ message })
  const { result: response, reasons } = await loggedReasons(() =>
    fetch(`${server.url}/api/auth/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message, signature }),
    }),
  )
  return { response, reasons, message, nonce, account }
}

/** The reasons of the `sign-in rejected` lines the server logs (at debug) while `run` runs. */
async function loggedReasons<T>(run: () => Promise<T>): Promise<{ result: T; reasons: string[] }> {
  const { result, written } = await captureStderr(run)
  const reasons = written
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { message: string; reason?: string })
    .filter((entry) => entry.message === 'sign-in rejected')
    .map((entry) => entry.reason ?? '')
  return { result, reasons }
}

type ErrorBody = { error: { code: string; message: string } }
const refusals = new Set<string>()
async function expectRefused(response: Response) {
  expect(response.status).toBe(401)
  const body = (await response.json()) as ErrorBody
  expect(body.error.code).toBe('SIWE_INVALID')
  refusals.add(body.error.message)
}

const GRAMMAR = 'not an EIP-4361 message: '

describe("the reference's negative vectors", () => {
  const cases = Object.entries(negativeVectors)

  test('there are 29 of them; adapted, each is still outside the grammar, and 26 name the issued nonce', () => {
    expect(cases).toHaveLength(29)
    const account = newAccount()
    const nonce = 'abcdefgh01234567'
    let naming = 0
    for (const [name, vector] of cases) {
      const adapted = adapt(vector, nonce, account)
      expect({ name, ok: readSiweMessage(adapted).ok }).toEqual({ name, ok: false })
      if (adapted.split('\n').includes(`Nonce: ${nonce}`)) naming++
    }
    // Not "missing nonce", "nonce with less then 8 chars", nor "out of order chainId" (its Nonce line runs on).
    expect(naming).toBe(26)
  })

  test.each(cases)(
    '%s: refused as outside the grammar, 401 SIWE_INVALID, and the nonce it names is spent',
    async (_name, vector) => {
      const { response, reasons, message, nonce, account } = await attempt(vector)
      await expectRefused(response)
      expect(reasons).toHaveLength(1)
      expect(reasons[0]!.startsWith(GRAMMAR)).toBe(true)
      expect(reasons[0]!.length).toBeGreaterThan(GRAMMAR.length)

      if (message.split('\n').includes(`Nonce: ${nonce}`)) {
        // A well-formed message signed by the same key comes too late: the malformed attempt used the nonce.
        const retry = await loggedReasons(() =>
          trySignIn(server.url, account, { nonce, message: AS_THE_VECTORS }),
        )
        await expectRefused(retry.result.response)
        expect(retry.reasons).toEqual(['unknown or used nonce'])
      }
    },
  )

  test('the log names the rule that failed, or the line where the text leaves the grammar', async () => {
    const rule = async (name: keyof typeof negativeVectors) =>
      (await attempt(negativeVectors[name])).reasons[0]
    expect(await rule('address not EIP-55')).toContain('invalid EIP-55 address')
    expect(await rule('non-ISO 8601 issuedAt')).toContain('line 10: invalid issued-at date time syntax')
    expect(await rule('statement has line break')).toContain('stops matching at line 5, column 1')
    expect(await rule('out of order expirationTime')).toContain('line 12, column 1 ("Expiration Time: ')
  })
})

/** Positives whose URI is not on their domain, made so in the way that keeps what the vector is about. */
const ONTO_THE_DOMAIN: Record<string, [string, string]> = {
  // The point is the domain's form: the URI moves onto that domain.
  'domain is RFC 3986 authority with IP': ['URI: https://service.org/', 'URI: https://127.0.0.1/'],
  'domain is RFC 3986 authority with port': ['URI: https://service.org/', 'URI: https://127.0.0.1:8080/'],
  'domain is localhost authority with port': ['URI: https://service.org/', 'URI: https://localhost:8080/'],
  // The point is the URI's form: the domain becomes the URI's authority.
  'uri ipv4': ['service.org wants', '127.0.0.1 wants'],
  'uri with port': ['service.org wants', '127.0.0.1:4361 wants'],
  'uri ipv4 query params and fragment': ['service.org wants', '127.0.0.1 wants'],
  // The point is the signature's recovery byte, which a fresh key signs anew anyway.
  'recovery byte starting at 0': ['URI: https://tally.xyz', 'URI: https://www.tally.xyz'],
}

/**
 * Valid EIP-4361 that cannot be Herald's: SIWE_DOMAINS holds host[:port] only (no userinfo, no IPv6 literal), and
 * the URI must be on the domain. The grammar accepts them; Herald's policy refuses them, and says so in its log.
 */
const NOT_HERALDS = {
  'domain is RFC 3986 authority with userinfo': 'domain test@127.0.0.1 not allowed',
  'domain is RFC 3986 authority with userinfo and port': 'domain test@127.0.0.1:8080 not allowed',
  'domain ipv6': 'domain [::cafe] not allowed',
  'uri ipv6': 'uri is not on the domain',
} as Record<string, string>

describe("the reference's positive vectors", () => {
  const cases = Object.entries(positiveVectors)
  const heralds = cases.filter(([name]) => !(name in NOT_HERALDS))

  test('there are 19 of them; 15 can be Herald’s', () => {
    expect(cases).toHaveLength(19)
    expect(heralds).toHaveLength(15)
  })

  test.each(heralds)('%s: signs in', async (name, vector) => {
    const [from, to] = ONTO_THE_DOMAIN[name] ?? ['', '']
    const { response, reasons, message, account } = await attempt(vector.message, (m) => m.replace(from, to))
    if (from) expect(message).toContain(to)
    expect({ reasons, status: response.status }).toEqual({ reasons: [], status: 200 })
    const body = (await response.json()) as { user: { address: string } }
    expect(body.user.address).toBe(account.address)
  })

  test.each(cases.filter(([name]) => name in NOT_HERALDS))(
    '%s: well formed, refused by Herald’s policy',
    async (name, vector) => {
      const { response, reasons, message } = await attempt(vector.message)
      expect(readSiweMessage(message).ok).toBe(true)
      await expectRefused(response)
      expect(reasons).toEqual([NOT_HERALDS[name]!])
    },
  )
})

test('every refusal carries the one sentence every other sign-in failure has', async () => {
  const { result } = await loggedReasons(() =>
    trySignIn(server.url, newAccount(), { signer: newAccount(), message: AS_THE_VECTORS }),
  )
  const other = ((await result.response.json()) as ErrorBody).error.message
  expect([...refusals]).toEqual([other])
})
