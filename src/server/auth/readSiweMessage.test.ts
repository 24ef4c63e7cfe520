import { expect, test } from 'bun:test'
import { createSiweMessage } from 'viem/siwe'
import { newAccount } from '../../../test/helpers/wallet'
import { readSiweMessage } from './readSiweMessage'

const fields = () => ({
  address: newAccount().address,
  chainId: 31337,
  domain: 'localhost:3000',
  nonce: 'abcdefgh01234567',
  uri: 'http://localhost:3000/',
  version: '1' as const,
  statement: 'Sign in to Herald',
  issuedAt: new Date('2030-01-02T03:04:05.678Z'),
  expirationTime: new Date('2030-01-02T04:04:05.678Z'),
  notBefore: new Date('2030-01-02T03:00:00.000Z'),
  requestId: 'req-1',
  resources: ['https://localhost:3000/a', 'ipfs://Qme7ss3ARVgxv6rXqVPiikMJ8u2NLgmgszg13pYrDKEoiu'],
})

test('a message from viem reads back field for field, times as instants', () => {
  const expected = fields()
  const reading = readSiweMessage(createSiweMessage(expected))
  expect(reading).toEqual({ ok: true, fields: expected })
})

test('a time the grammar admits but no instant can be (a leap second) is refused, naming the field', () => {
  const message = createSiweMessage(fields()).replace(
    'Issued At: 2030-01-02T03:04:05.678Z',
    'Issued At: 2030-01-02T23:59:60Z',
  )
  expect(readSiweMessage(message)).toEqual({
    ok: false,
    rule: 'issuedAt is not a representable instant',
    nonce: 'abcdefgh01234567',
  })
})

test('a malformed message still gives the nonce on its Nonce line, to be spent', () => {
  const message = createSiweMessage(fields()).replace('Version: 1\n', '')
  const reading = readSiweMessage(message)
  expect(reading.ok).toBe(false)
  if (reading.ok) return
  expect(reading.nonce).toBe('abcdefgh01234567')
  expect(reading.rule).toContain('line 7')
  expect(readSiweMessage('hello').ok).toBe(false)
  expect(readSiweMessage('hello')).toMatchObject({ nonce: undefined })
})

test('the rule stays short, whatever the message', () => {
  const message = `${'x'.repeat(4000)} wants you to sign in with your Ethereum account:\n${'y'.repeat(4000)}`
  const reading = readSiweMessage(message)
  expect(reading.ok).toBe(false)
  if (reading.ok) return
  expect(reading.rule.length).toBeLessThanOrEqual(301)
  // The operator gets where the text broke, with a short excerpt of that line, never the line itself.
  expect(reading.rule).toContain('line 2')
  expect(reading.rule).not.toContain('y'.repeat(41))
})
