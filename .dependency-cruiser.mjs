// The import rules between Herald's folders, checked by `npm run lint` (dependency-cruiser). The rooms and
// their directions follow the house plan: a room may use the rooms below it, never one above, and a room that
// needs something from a sibling gets it as a parameter from the composition root (src/server/app.ts).
// Tests (*.test.ts) are left out of the graph: they may import anything, and nothing imports them. Violations
// recorded in .dependency-cruiser-known-violations.json are being fixed; regenerate it with
// `bun --bun depcruise-baseline src web scripts bench test` once they are, so no new one slips in.

/** Server rooms from the bottom up: each may import its own layer and those below, nothing above. */
const layers = [
  {
    name: 'base',
    path: '^src/server/(config|log|metrics|time)/|^src/server/errors[.]ts$',
    what: 'configuration, logging, metrics, time (clock, timeouts) and the error type',
  },
  { name: 'db', path: '^src/server/db/', what: 'the schema and the database handle' },
  { name: 'bus', path: '^src/server/bus/', what: 'the event bus' },
  { name: 'streams', path: '^src/server/streams/', what: 'the stream core' },
  {
    name: 'domain',
    path: '^src/server/(auth|chain|channels|jobs|notifications|push|tokens|transfers|users)/',
    what: 'sign-in, the chain, channels, jobs, notifications, Web Push, tokens, transfers and users',
  },
  {
    name: 'http',
    path: '^src/server/http/',
    what: 'what /api and /ws share (rate limits, client IP, origins, headers, errors, bodies)',
  },
  { name: 'edge', path: '^src/server/(api|ws)/', what: 'the routes and the WebSocket hub' },
  {
    name: 'root',
    path: '^src/server/(app|main|index)[.]ts$|^src/server/compose/',
    what: 'the composition root (app.ts and its helpers in compose/) and the entry point',
  },
]

/** A rule every import must keep (a violation fails the lint). */
const forbid = (name, comment, from, to, scope = 'module') => ({
  name,
  comment,
  severity: 'error',
  scope,
  from,
  to,
})

const upward = layers.slice(0, -1).map((layer, i) => {
  const above = layers.slice(i + 1)
  return forbid(
    `${layer.name}-not-upward`,
    `${layer.what} must not import the rooms above (${above.map((a) => a.name).join(', ')}): take what is needed as a parameter from src/server/app.ts.`,
    { path: layer.path },
    { path: above.map((a) => a.path).join('|') },
  )
})

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    forbid(
      'no-circular',
      'No import cycles between modules (type-only imports included).',
      {},
      { circular: true },
    ),
    forbid(
      'no-circular-folders',
      'No import cycles between folders, even when no single module is in one.',
      {},
      { circular: true },
      'folder',
    ),
    forbid(
      'server-room-known',
      'Every server folder has a place in the layers of .dependency-cruiser.mjs: add a new one there.',
      { path: '^src/server/', pathNot: layers.map((layer) => layer.path).join('|') },
      {},
    ),
    ...upward,
    forbid(
      'api-and-ws-apart',
      'The routes and the hub never import each other: what both need lives in http/, and app.ts hands the routes the hub.',
      { path: '^src/server/(api|ws)/' },
      { path: '^src/server/(api|ws)/', pathNot: '^src/server/$1/' },
    ),
    forbid(
      'bus-implementations-from-root',
      'Only the composition root picks a bus: everything else uses the Bus interface (bus/types).',
      { path: '^src/', pathNot: '^src/server/(app[.]ts|compose/|bus/)' },
      { path: '^src/server/bus/create[^/]*Bus[.]ts$' },
    ),
    forbid(
      'client-and-web-not-to-server',
      'The SDK, the React layer and the web app run in browsers: they use src/shared/protocol, never server code.',
      { path: '^(web|src/client)/' },
      { path: '^src/server/' },
    ),
    forbid(
      'shared-stands-alone',
      'src/shared is used by server, client and web app alike, so it imports none of them.',
      { path: '^src/shared/' },
      { path: '^(src/(server|client)|web|test|bench|scripts)/' },
    ),
    forbid(
      'server-not-to-client',
      'The server does not import the SDK, the React layer or the web app.',
      { path: '^src/server/' },
      { path: '^(src/client|web)/' },
    ),
    forbid(
      'sdk-not-to-react',
      'The React layer is built over the SDK, not the other way round.',
      { path: '^src/client/sdk/' },
      { path: '^src/client/react/' },
    ),
    forbid(
      'only-tests-import-test-helpers',
      'test/ holds test helpers: nothing else imports them.',
      { pathNot: '^test/' },
      { path: '^test/' },
    ),
    forbid(
      'resolvable',
      'An import the checker cannot resolve is one it cannot check.',
      {},
      { couldNotResolve: true },
    ),
  ],
  options: {
    // TypeScript 7 has no compiler API for dependency-cruiser to parse with; swc reads TypeScript and TSX.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '[.]test[.]tsx?$|(^|/)(dist|node_modules)/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.mjs', '.js', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
}
