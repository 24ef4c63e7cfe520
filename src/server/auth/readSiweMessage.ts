import { ParsedMessage } from '@spruceid/siwe-parser'
import type { Address } from 'viem'

/** The fields of a message that is exactly EIP-4361, times as instants. */
export interface SiweFields {
  scheme?: string
  domain: string
  address: Address
  statement?: string
  uri: string
  version: '1'
  chainId: number
  nonce: string
  issuedAt: Date
  expirationTime?: Date
  notBefore?: Date
  requestId?: string
  resources?: string[]
}

export type SiweReading =
  | { ok: true; fields: SiweFields }
  /** `rule` says which rule failed, for the operator's log; `nonce` is the one the text names, if any. */
  | { ok: false; rule: string; nonce: string | undefined }

const MAX_RULE_LENGTH = 300
const EXCERPT_LENGTH = 40
// How @spruceid/siwe-parser introduces the JSON of the parser's final state in its error.
const STATE_DUMP = 'Invalid message: '
const LINE_COUNT = 'invalid message: max line number was'
const NONCE_LABEL = 'Nonce: '

/**
 * Reads a sign-in message with the EIP-4361 reference grammar (the ABNF of spruceid/siwe, compiled by apg-js):
 * field order, line structure, a statement without line breaks, RFC 3339 times, an EIP-55 address, RFC 3986
 * URIs for `URI` and every resource, version 1. Anything else is refused, whatever a lenient reading makes of it.
 */
export function readSiweMessage(message: string): SiweReading {
  let parsed: ParsedMessage
  try {
    parsed = new ParsedMessage(message)
  } catch (error) {
    return { ok: false, rule: grammarRule(error, message), nonce: namedNonce(message) }
  }
  const times = {
    issuedAt: new Date(parsed.issuedAt),
    expirationTime: parsed.expirationTime === undefined ? undefined : new Date(parsed.expirationTime),
    notBefore: parsed.notBefore === undefined ? undefined : new Date(parsed.notBefore),
  }
  for (const [field, value] of Object.entries(times)) {
    // The grammar admits a leap second (:60), which no Date can hold.
    if (value !== undefined && Number.isNaN(value.getTime()))
      return { ok: false, rule: `${field} is not a representable instant`, nonce: parsed.nonce }
  }
  return {
    ok: true,
    fields: {
      ...(parsed.scheme === undefined ? {} : { scheme: parsed.scheme }),
      domain: parsed.domain,
      address: parsed.address as Address,
      ...(parsed.statement === undefined ? {} : { statement: parsed.statement }),
      uri: parsed.uri,
      version: '1',
      chainId: parsed.chainId,
      nonce: parsed.nonce,
      issuedAt: times.issuedAt,
      ...(times.expirationTime === undefined ? {} : { expirationTime: times.expirationTime }),
      ...(times.notBefore === undefined ? {} : { notBefore: times.notBefore }),
      ...(parsed.requestId === undefined ? {} : { requestId: parsed.requestId }),
      ...(parsed.resources === undefined ? {} : { resources: parsed.resources }),
    },
  }
}

/**
 * The parser's own findings (each names a line and a rule), then where the text stopped matching: its dump of the
 * parse state gives the furthest offset the grammar reached, which tells the operator the line that broke it.
 */
function grammarRule(error: unknown, message: string): string {
  const text = error instanceof Error ? error.message : String(error)
  let findings: string[] = []
  let furthest: number | undefined
  for (const line of text.split('\n')) {
    if (line.startsWith(STATE_DUMP)) furthest = maxMatched(line.slice(STATE_DUMP.length))
    else if (line.trim() !== '') findings.push(line)
  }
  if (furthest !== undefined) {
    // The parser's line count also counts line breaks it tried past the failure: the offset is the one to trust.
    findings = findings.filter((finding) => !finding.startsWith(LINE_COUNT))
    const lineStart = message.lastIndexOf('\n', furthest - 1) + 1
    const lineNumber = message.slice(0, lineStart).split('\n').length
    const lineEnd = message.indexOf('\n', lineStart)
    const excerpt = message.slice(lineStart, lineEnd === -1 ? undefined : lineEnd).slice(0, EXCERPT_LENGTH)
    findings.push(
      `stops matching at line ${lineNumber}, column ${furthest - lineStart + 1} (${JSON.stringify(excerpt)})`,
    )
  }
  const rule = findings.length > 0 ? findings.join('; ') : 'does not follow the grammar'
  return rule.length > MAX_RULE_LENGTH ? `${rule.slice(0, MAX_RULE_LENGTH)}…` : rule
}

function maxMatched(dump: string): number | undefined {
  try {
    const state = JSON.parse(dump) as { maxMatched?: unknown }
    return typeof state.maxMatched === 'number' ? state.maxMatched : undefined
  } catch {
    return undefined
  }
}

/**
 * The nonce a malformed message names on a `Nonce: ` line: it is spent like a well-formed message's, so a refused
 * message cannot be corrected and signed again with it. Read by lines, not by the grammar that just failed.
 */
function namedNonce(message: string): string | undefined {
  const line = message.split('\n').find((text) => text.startsWith(NONCE_LABEL))
  return line?.slice(NONCE_LABEL.length) || undefined
}
