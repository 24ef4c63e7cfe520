// Compiles contracts/HeraldToken.sol offline (the solc-js bundled in node_modules) and writes
// contracts/artifacts/HeraldToken.json, src/shared/contracts/heraldTokenAbi.ts (the ABI, for every side) and
// src/server/chain/heraldToken.ts (the server's: bytecode, source hash, the ABI re-exported). Deterministic: rebuilding
// unchanged sources rewrites identical files.
//
//   bun run build:contracts
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ABI_MODULE_PATH, ARTIFACT_PATH, buildHeraldToken, MODULE_PATH } from '../contracts/buildHeraldToken'

const repoRoot = join(import.meta.dir, '..')

function write(path: string, content: string) {
  const file = join(repoRoot, path)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, content)
  console.log(`wrote ${path}`)
}

const started = performance.now()
const build = buildHeraldToken()
for (const warning of build.warnings) console.warn(warning)
write(ARTIFACT_PATH, build.artifactJson)
write(ABI_MODULE_PATH, build.abiModuleSource)
write(MODULE_PATH, build.moduleSource)
const { artifact } = build
console.log(
  `${artifact.contractName}: solc ${artifact.compiler}, ${Object.keys(build.sources).length} sources ` +
    `(sha256 ${artifact.sourceHash.slice(0, 12)}…), ${(artifact.bytecode.length - 2) / 2} bytes of init code, ` +
    `${Math.round(performance.now() - started)} ms`,
)
