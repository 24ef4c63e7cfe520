import { describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { jwtVerify, SignJWT } from 'jose'
import { importHmacKey } from './hmacKey'
import { hs256Key, verifyHs256 } from './hs256'

const SECRET = 'a-secret-of-at-least-thirty-two-characters!'
const NOW = 1_800_000_000_000
const key = hs256Key(SECRET)
const joseKey = await importHmacKey(SECRET)

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
/** A token signed by hand: any header and payload, signed with `secret`. */
function handMade(header: unknown, payload: unknown, secret = SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}
const exp = Math.floor(NOW / 1000) + 60
/** A base64url character that differs from `last` only in the two bits a 32-byte value leaves unused. */
const otherSpelling = (last: string) => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  return alphabet[alphabet.indexOf(last) ^ 1]!
}

describe('verifyHs256', () => {
  test('a token jose signed is accepted, with its payload', async () => {
    const token = await new SignJWT({ sid: 's', addr: '0xabc' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('herald')
      .setSubject('42')
      .setIssuedAt(Math.floor(NOW / 1000))
      .setExpirationTime(exp)
      .sign(joseKey)
    expect(verifyHs256(token, key, NOW)).toEqual({
      sid: 's',
      addr: '0xabc',
      iss: 'herald',
      sub: '42',
      iat: Math.floor(NOW / 1000),
      exp,
    })
  })

  test('everything else is refused', () => {
    const good = handMade({ alg: 'HS256' }, { sub: '1', exp })
    expect(verifyHs256(good, key, NOW)).not.toBeNull()
    const [h, p, s] = good.split('.') as [string, string, string]
    const refused = {
      'another secret': handMade({ alg: 'HS256' }, { sub: '1', exp }, `${SECRET}x`),
      'alg none, unsigned': `${b64({ alg: 'none' })}.${p}.`,
      'alg none, signed': handMade({ alg: 'none' }, { sub: '1', exp }),
      'another algorithm named': handMade({ alg: 'HS512' }, { sub: '1', exp }),
      'a crit header': handMade({ alg: 'HS256', crit: ['b64'], b64: false }, { sub: '1', exp }),
      'a changed payload': `${h}.${b64({ sub: '2', exp })}.${s}`,
      'the signature padded': `${good}=`,
      'the signature in base64': `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`,
      'the same bytes, its last character spelled otherwise': `${h}.${p}.${s.slice(0, -1)}${otherSpelling(s.at(-1)!)}`,
      'two segments': `${h}.${p}`,
      'four segments': `${good}.${s}`,
      'an empty signature': `${h}.${p}.`,
      'expired now': handMade({ alg: 'HS256' }, { sub: '1', exp: Math.floor(NOW / 1000) }),
      'no exp': handMade({ alg: 'HS256' }, { sub: '1' }),
      'exp a string': handMade({ alg: 'HS256' }, { sub: '1', exp: String(exp) }),
      'not before a later time': handMade({ alg: 'HS256' }, { sub: '1', exp, nbf: exp - 30 }),
      'iat a string': handMade({ alg: 'HS256' }, { sub: '1', exp, iat: 'now' }),
      'a payload that is an array': handMade({ alg: 'HS256' }, [1, 2]),
      'a payload that is not JSON': (() => {
        const input = `${h}.${Buffer.from('{not json').toString('base64url')}`
        return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`
      })(),
      'a header that is not an object': handMade('HS256', { sub: '1', exp }),
      junk: 'not a token at all',
      empty: '',
    }
    for (const [name, token] of Object.entries(refused))
      expect({ name, payload: verifyHs256(token, key, NOW) }).toEqual({ name, payload: null })
  })

  // The same decision as jose's jwtVerify (what verified tokens before) on tokens that are mostly valid and
  // then changed a little: a character of any segment replaced, cut or duplicated.
  test('accepts and refuses exactly what jose does', async () => {
    const tokens = fc.record({
      header: fc.oneof(
        fc.constant({ alg: 'HS256', typ: 'JWT' }),
        fc.constant({ alg: 'HS256' }),
        fc.constant({ alg: 'none' }),
        fc.constant({ alg: 'HS384' }),
        fc.constant({ alg: 'HS256', crit: ['exp'] }),
      ),
      payload: fc.record(
        {
          sub: fc.string(),
          exp: fc.oneof(fc.integer({ min: exp - 120, max: exp + 120 }), fc.constant('soon')),
          nbf: fc.integer({ min: exp - 200, max: exp }),
          iat: fc.oneof(fc.integer(), fc.constant('x')),
        },
        { requiredKeys: [] },
      ),
      otherSecret: fc.boolean(),
      edit: fc.option(fc.record({ at: fc.nat(), char: fc.constantFrom('A', '.', '-', '_', '=', 'z') })),
    })
    await fc.assert(
      fc.asyncProperty(tokens, async ({ header, payload, otherSecret, edit }) => {
        let token = handMade(header, payload, otherSecret ? `${SECRET}!` : SECRET)
        if (edit) {
          const at = edit.at % token.length
          token = token.slice(0, at) + edit.char + token.slice(at + 1)
        }
        const jose = await jwtVerify(token, joseKey, {
          algorithms: ['HS256'],
          currentDate: new Date(NOW),
          requiredClaims: ['exp'],
        }).then(
          (result) => result.payload,
          () => null,
        )
        // One deliberate difference: jose compares the signature's decoded bytes, so a last character that
        // differs only in base64url's unused bits passes there; here only the canonical spelling does.
        const signature = token.slice(token.lastIndexOf('.') + 1)
        const canonical = Buffer.from(signature, 'base64url').toString('base64url') === signature
        expect(verifyHs256(token, key, NOW)).toEqual(
          canonical ? (jose as Record<string, unknown> | null) : null,
        )
      }),
      { numRuns: 2000 },
    )
  })
})
