import type { TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import {
  AdminBroadcastBodySchema,
  AdminPublishBatchBodySchema,
  AdminPublishBodySchema,
} from '../../shared/protocol'
import { HeraldError } from '../errors'

// The library's calls take the bodies of the admin routes, checked against the same schemas: a bad argument
// is the route's 422 INVALID_INPUT as a thrown HeraldError, naming the field.
const schemas = {
  AdminPublishBody: AdminPublishBodySchema,
  AdminPublishBatchBody: AdminPublishBatchBodySchema,
  BroadcastMessage: AdminBroadcastBodySchema.properties.message,
} satisfies Record<string, TSchema>

type Schemas = typeof schemas

export function validated<K extends keyof Schemas>(
  call: string,
  kind: K,
  value: unknown,
): Schemas[K]['static'] {
  const schema: TSchema = schemas[kind]
  const first = Value.Errors(schema, value).First()
  if (first) {
    const path = first.path.replace(/^\//, '').replaceAll('/', '.')
    throw new HeraldError('INVALID_INPUT', `${call}: ${path ? `${path}: ` : ''}${first.message}`)
  }
  return value as Schemas[K]['static']
}
