import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { HeraldError } from '../errors'

/**
 * A route's options for a JSON object body, from its schema given once: `body` (which types the handler and
 * documents the route) and validateBody below on the same schema. `before` are transforms that must run first
 * (a rate limit, a key check), so a refused request costs no validation and learns nothing about the body.
 * Spread the result into the route's options.
 */
export function withBody<
  const S extends TSchema,
  const Before extends readonly ((context: never) => unknown)[],
>(schema: S, ...before: Before) {
  return { body: schema, transform: [...before, validateBody(schema)] }
}

/**
 * withBody for a route whose body may be left out altogether (`POST .../read-all` with no body): an empty
 * body is `{}`, anything else must match the schema.
 */
export function withOptionalBody<const S extends TSchema>(schema: S) {
  const validate = validateBody(schema)
  return {
    body: schema,
    transform: [
      (context: { body: unknown }) => {
        if (context.body === undefined || context.body === null || context.body === '') context.body = {}
        validate(context)
      },
    ],
  }
}

/**
 * A transform hook that checks the body against the route's schema before Elysia does, for routes whose
 * bodies are JSON objects. Elysia builds its validation message by interpolating the value it found, which
 * throws for a JSON object whose "toString" or "valueOf" is not a function (`{"name": {"toString": 1}}`):
 * bad input answered with a 500. TypeBox's own messages never convert the value, so such bodies stay a 422
 * naming the field, like every other bad body.
 */
function validateBody(schema: TSchema) {
  const check = TypeCompiler.Compile(schema)
  return ({ body }: { body: unknown }) => {
    if (check.Check(body)) return
    const first = check.Errors(body).First()
    const path = first?.path ? first.path.replace(/^\//, '').replaceAll('/', '.') : ''
    const message = first?.message ?? 'Invalid body.'
    throw new HeraldError('INVALID_INPUT', path ? `body.${path}: ${message}` : `body: ${message}`)
  }
}
