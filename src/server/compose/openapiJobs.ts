import type { ApiContext } from '../api/context'

// The OpenAPI description names the job types of this server: `POST /api/jobs` takes `{ type, input }` whatever
// the type, so the input of each is a schema of its own (`JobInput.<type>`), from its definition (`defineJob`).

/** `JobInput.<type>` → the type's input schema, as JSON Schema (TypeBox schemas are JSON Schema). */
export function jobInputSchemas(ctx: ApiContext): Record<string, object> {
  const schemas: Record<string, object> = {}
  for (const { definition } of ctx.jobs.registry.all())
    schemas[`JobInput.${definition.name}`] = JSON.parse(JSON.stringify(definition.input)) as object
  return schemas
}

export function apiDescription(ctx: ApiContext): string {
  const types = ctx.jobs.registry.all().map(({ definition }) => definition)
  const startable = types
    .filter((definition) => definition.userStartable)
    .map((definition) => definition.name)
  const others = types.filter((definition) => !definition.userStartable).map((definition) => definition.name)
  const list = (names: string[]) => (names.length ? names.map((name) => `\`${name}\``).join(', ') : 'none')
  return [
    'Herald’s HTTP API; the contract, with the WebSocket protocol, is docs/protocol.md. Mounted in an app with',
    '`herald/server` (`createHerald`), these routes sit beside the app’s own, on its port.',
    '',
    `Job types users may start with \`POST /api/jobs\`: ${list(startable)}; started by the server only`,
    `(\`jobs.start\`): ${list(others)}. The \`input\` of each is the schema \`JobInput.<type>\`.`,
  ].join('\n')
}
