// Builds what the package ships besides the server's sources (docs/protocol.md §9): JavaScript bundles of the
// entries that run outside Bun (herald/client, herald/react, herald/admin, herald/protocol: browsers and
// Node 20+) and the type declarations of every entry. Run by `npm pack` (prepack); the output is dist/.
//
// The server entry (herald/server) ships as its TypeScript sources: it runs on Bun only (Bun.serve, bun:sqlite
// free PGlite, the anvil spawn), and Bun runs TypeScript from node_modules as it is.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

const root = join(import.meta.dir, '..')
const dist = join(root, 'dist')
rmSync(dist, { recursive: true, force: true })

const entries = [
  'src/client/sdk/index.ts',
  'src/client/admin/index.ts',
  'src/client/react/index.ts',
  'src/shared/protocol/index.ts',
  // The SDK's SharedWorker (shareAcrossTabs): a file of its own, loaded by URL.
  'src/client/sdk/tabsWorker.ts',
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

// The SDK creates its worker with `new URL('./tabsWorker.ts', import.meta.url)`; the code that does it landed in a
// shared chunk, so the URL is pointed at the built worker from there. (An app's bundler, such as Vite, then
// emits the worker as its own asset, as it does in this repository's web app.)
const worker = built.outputs.find((output) => output.path.endsWith(join('client', 'sdk', 'tabsWorker.js')))
if (!worker) throw new Error('the SharedWorker was not built')
let pointed = 0
for (const output of built.outputs) {
  if (!output.path.endsWith('.js')) continue
  const text = readFileSync(output.path, 'utf8')
  if (!text.includes('"./tabsWorker.ts"')) continue
  const target = relative(dirname(output.path), worker.path)
  writeFileSync(output.path, text.replaceAll('"./tabsWorker.ts"', JSON.stringify(`./${target}`)))
  pointed++
}
if (pointed === 0)
  throw new Error('no bundle creates the SharedWorker: is tabsWorker.ts still loaded by URL?')

const declarations = Bun.spawnSync(
  [join(root, 'node_modules/.bin/tsc'), '-p', join(root, 'tsconfig.package.json')],
  { stdout: 'inherit', stderr: 'inherit' },
)
if (declarations.exitCode !== 0) process.exit(declarations.exitCode ?? 1)
console.log(`dist/: ${built.outputs.length} files and the declarations (dist/types)`)
