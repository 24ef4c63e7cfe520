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
    path: '^src/server/(config|log|metrics)/|^src/server/errors[.]ts$',
    what: 'configuration, logging, metrics and the error type',
  },
  { name: 'db', path: '^src/server/db/', what: 'the schema and the database handle' },
  { name: 'bus', path: '^src/server/bus/', what: 'the event bus' },
  { name: 'streams', path: '^src/server/streams/', what: 'the stream core' },
  {
    name: 'domain',
    path: '^src/server/(auth|chain|channels|jobs|notifications|tokens|users)/',
    what: 'sign-in, the chain, channels, jobs, notifications, tokens and users',
  },
  {
    name: 'http',
    path: '^src/server/http/',
    what: 'what /api and /ws share (rate limits, client IP, origins, headers, errors, bodies)',
  },
  { name: 'edge', path: '^src/server/(api|ws)/', what: 'the routes and the WebSocket hub' },
  { name: 'root', path: '^src/server/(app|main)[.]ts$', what: 'the composition root and the entry point' },
]

const upward = layers.slice(0, -1).map((layer, i) => ({
  name: `${layer.name}-not-upward`,
  comment: `${layer.what} must not import the rooms above (${layers
    .slice(i + 1)
    .map((above) => above.name)
    .join(', ')}): take what is needed as a parameter from src/server/app.ts.`,
  severity: 'error',
  from: { path: layer.path },
  to: {
    path: layers
      .slice(i + 1)
      .map((above) => above.path)
      .join('|'),
  },
}))

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles between modules (type-only imports included).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'No import cycles between folders, even when no single module is in one.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'server-room-known',
      comment:
        'Every server folder has a place in the layers of .dependency-cruiser.mjs: add a new one there.',
      severity: 'error',
      from: { path: '^src/server/', pathNot: layers.map((layer) => layer.path).join('|') },
      to: {},
    },
    ...upward,
    {
      name: 'api-and-ws-apart',
      comment:
        'The routes and the hub never import each other: what both need lives in http/, and app.ts hands the routes the hub.',
      severity: 'error',
      from: { path: '^src/server/(api|ws)/' },
      to: { path: '^src/server/(api|ws)/', pathNot: '^src/server/$1/' },
    },
    {
      name: 'bus-implementations-from-root',
      comment: 'Only the composition root picks a bus: everything else uses the Bus interface (bus/types).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/server/(app[.]ts|bus/)' },
      to: { path: '^src/server/bus/create[^/]*Bus[.]ts$' },
    },
    {
      name: 'client-and-web-not-to-server',
      comment:
        'The SDK, the React layer and the web app run in browsers: they use src/shared/protocol, never server code.',
      severity: 'error',
      from: { path: '^(web|src/client)/' },
      to: { path: '^src/server/' },
    },
    {
      name: 'shared-stands-alone',
      comment: 'src/shared is used by server, client and web app alike, so it imports none of them.',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^(src/(server|client)|web|test|bench|scripts)/' },
    },
    {
      name: 'server-not-to-client',
      comment: 'The server does not import the SDK, the React layer or the web app.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^(src/client|web)/' },
    },
    {
      name: 'sdk-not-to-react',
      comment: 'The React layer is built over the SDK, not the other way round.',
      severity: 'error',
      from: { path: '^src/client/sdk/' },
      to: { path: '^src/client/react/' },
    },
    {
      name: 'only-tests-import-test-helpers',
      comment: 'test/ holds test helpers: nothing else imports them.',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
    {
      name: 'resolvable',
      comment: 'An import the checker cannot resolve is one it cannot check.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
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
