// Builds what the package ships besides the server's sources (docs/protocol.md §9): JavaScript bundles of the
// entries that run outside Bun (herald/client, herald/react, herald/admin, herald/protocol: browsers and
// Node 20+) and the type declarations of every entry. Run by `npm pack` (prepack); the output is dist/.
//
// The server entry (herald/server) ships as its TypeScript sources: it runs on Bun only (Bun.serve, bun:sqlite
// free PGlite, the anvil spawn), and Bun runs TypeScript from node_modules as it is.
import { rmSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dir, '..')
const dist = join(root, 'dist')
rmSync(dist, { recursive: true, force: true })

const entries = [
  'src/client/sdk/index.ts',
  'src/client/admin/index.ts',
  'src/client/react/index.ts',
  'src/shared/protocol/index.ts',
]
const built = await Bun.build({
  entrypoints: entries.map((entry) => join(root, entry)),
  root: join(root, 'src'),
  outdir: dist,
  // Browser code that also runs on Node 20+ (fetch, WebCrypto and, given one, a WebSocket implementation).
  target: 'browser',
  format: 'esm',
  // One copy of the code the entries share (the SDK inside herald/react, the protocol inside every entry).
  splitting: true,
  // The app brings React (a peer dependency of herald/react); the rest (the protocol's TypeBox schemas,
  // partysocket, viem's SIWE message, jose's decoder) is bundled, so Node needs nothing else installed.
  external: ['react', 'react-dom', 'react/jsx-runtime'],
  minify: false,
  sourcemap: 'linked',
})
if (!built.success) {
  for (const log of built.logs) console.error(log)
  process.exit(1)
}

const declarations = Bun.spawnSync(
  [join(root, 'node_modules/.bin/tsc'), '-p', join(root, 'tsconfig.package.json')],
  { stdout: 'inherit', stderr: 'inherit' },
)
if (declarations.exitCode !== 0) process.exit(declarations.exitCode ?? 1)
console.log(`dist/: ${built.outputs.length} files and the declarations (dist/types)`)
