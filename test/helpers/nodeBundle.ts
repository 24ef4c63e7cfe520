import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The machine's `node` (Node 20 here), or null where there is none: tests of a Node bundle skip then. */
export const nodeBinary = Bun.which('node')

/**
 * `fixture` bundled for Node with `bun build --target=node` into a temporary folder, as a package's user gets
 * the code: `path` is the bundle; `remove()` deletes the folder.
 */
export function bundleForNode(fixture: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-node-bundle-'))
  const path = join(dir, 'bundle.mjs')
  const build = Bun.spawnSync([process.execPath, 'build', '--target=node', fixture, '--outfile', path])
  if (build.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`bun build failed: ${build.stderr.toString()}`)
  }
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
