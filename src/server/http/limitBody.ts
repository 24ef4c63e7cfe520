import { HeraldError } from '../errors'

export const bodyTooLarge = (maxBytes: number) =>
  new HeraldError('PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes.`)

/**
 * The request with its body cut off after `maxBytes`: reading further fails with a 413 HeraldError, which the
 * error handler answers with the contract's body. For streamed (chunked) bodies, whose size is only known
 * while they are read; a declared content-length is checked up front instead.
 */
export function limitBody(request: Request, maxBytes: number): Request {
  if (!request.body) return request
  let seen = 0
  const limiter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength
      if (seen > maxBytes) controller.error(bodyTooLarge(maxBytes))
      else controller.enqueue(chunk)
    },
  })
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body.pipeThrough(limiter),
    signal: request.signal,
    duplex: 'half',
  } as RequestInit)
}
