import { Elysia, type ValidationError } from 'elysia'
import { HeraldError, isDatabaseUnavailable } from '../errors'
import type { Logger } from '../log/createLogger'
import { ReplayedAnswer } from './idempotency'

/** Describes the first failing field in a sentence, e.g. `body.symbol: Expected string to match '^[A-Z0-9]+$'`. */
function describeValidation(error: ValidationError): string {
  const first = error.all[0]
  const where = error.type === 'body' ? 'body' : error.type === 'params' ? 'path' : error.type
  if (!first) return `Invalid ${where}.`
  const path = 'path' in first && first.path ? first.path.replace(/^\//, '').replaceAll('/', '.') : ''
  const summary = ('summary' in first && first.summary) || first.message
  return path ? `${where}.${path}: ${summary}` : `${where}: ${summary}`
}

function errorResponse(status: number, code: string, message: string, retryAfterSeconds?: number): Response {
  const headers = retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) }
  return Response.json({ error: { code, message } }, { status, headers })
}

/**
 * Maps every failure to the contract's error body; the status comes from HeraldError's table, or from the
 * framework's own codes below, and from nowhere else.
 */
export function errorHandler(log: Logger) {
  return new Elysia({ name: 'herald/errors' }).onError({ as: 'global' }, ({ code, error }) => {
    // Not a failure: the answer to an Idempotency-Key already used, given again before the route ran.
    if (error instanceof ReplayedAnswer) return error.toResponse()
    if (error instanceof HeraldError)
      return errorResponse(error.status, error.code, error.message, error.retryAfterSeconds)
    switch (code) {
      case 'VALIDATION':
        return errorResponse(422, 'INVALID_INPUT', describeValidation(error as ValidationError))
      case 'PARSE': {
        // Reading the body failed for a reason of ours (limitBody: too large) rather than bad JSON.
        const cause = (error as Error).cause
        if (cause instanceof HeraldError) return errorResponse(cause.status, cause.code, cause.message)
        return errorResponse(400, 'BAD_REQUEST', 'The request body is not valid JSON.')
      }
      case 'NOT_FOUND':
        return errorResponse(404, 'NOT_FOUND', 'No such route.')
      case 'INVALID_COOKIE_SIGNATURE':
        return errorResponse(400, 'BAD_REQUEST', 'Invalid cookie.')
    }
    const status = (error as { status?: unknown }).status
    if (typeof status === 'number' && status === 413)
      return errorResponse(413, 'PAYLOAD_TOO_LARGE', 'The request body is too large.')
    // An outage is not a bug: the client may retry, and the answer must not look like a success or a 500.
    if (isDatabaseUnavailable(error)) {
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause
      log.warn('database unavailable', {
        error: cause ? `${String(cause.code ?? '')} ${String(cause.message ?? '')}`.trim() : String(error),
      })
      return errorResponse(503, 'SERVICE_UNAVAILABLE', 'The database is unavailable; try again shortly.')
    }
    log.error('unhandled request error', { error: error instanceof Error ? error.stack : String(error) })
    return errorResponse(500, 'INTERNAL', 'Something went wrong on our side.')
  })
}
