import { beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { heraldTokenAbi, heraldTokenBytecode, heraldTokenSourceHash } from '../src/server/chain/heraldToken'
import { heraldTokenAbi as sharedHeraldTokenAbi } from '../src/shared/contracts/heraldTokenAbi'
import {
  ABI_MODULE_PATH,
  type AbiItem,
  ARTIFACT_PATH,
  buildHeraldToken,
  COMPILER_SETTINGS,
  type HeraldTokenBuild,
  MODULE_PATH,
  SOLC_VERSION,
} from './buildHeraldToken'

const repoRoot = join(import.meta.dir, '..')
const committed = (path: string) => readFileSync(join(repoRoot, path), 'utf8')

// One compilation (about a second) shared by every test.
let build: HeraldTokenBuild
beforeAll(() => {
  build = buildHeraldToken()
})

const find = (abi: readonly AbiItem[], type: string, name?: string) =>
  abi.find((item) => item.type === type && (name === undefined || item.name === name)) as
    | { inputs: { name: string; type: string }[]; outputs?: { type: string }[]; stateMutability?: string }
    | undefined

describe('HeraldToken build', () => {
  test('rebuilding from source gives exactly the committed artifact and generated modules', () => {
    expect(build.warnings).toEqual([])
    expect(build.artifactJson).toBe(committed(ARTIFACT_PATH))
    expect(build.abiModuleSource).toBe(committed(ABI_MODULE_PATH))
    expect(build.moduleSource).toBe(committed(MODULE_PATH))
  })

  test('the committed modules are what the server and the web app import', () => {
    expect(heraldTokenBytecode).toBe(build.artifact.bytecode)
    expect(heraldTokenSourceHash).toBe(build.artifact.sourceHash)
    expect(heraldTokenAbi as readonly unknown[]).toEqual(build.artifact.abi)
    expect(sharedHeraldTokenAbi).toBe(heraldTokenAbi)
  })

  test('pinned compiler and settings, every source hashed', () => {
    const { artifact, sources } = build
    expect(artifact.contractName).toBe('HeraldToken')
    expect(artifact.compiler.startsWith(`${SOLC_VERSION}+`)).toBe(true)
    expect(artifact.settings).toEqual(COMPILER_SETTINGS)
    expect(artifact.sourceHash).toMatch(/^[0-9a-f]{64}$/)
    expect(Object.keys(sources)).toContain('contracts/HeraldToken.sol')
    expect(Object.keys(sources)).toContain('@openzeppelin/contracts/token/ERC20/ERC20.sol')
    expect(artifact.bytecode).toMatch(/^0x(?:[0-9a-f]{2})+$/)
    // bytecodeHash 'none': the CBOR trailer holds only the compiler version (no IPFS/Swarm hash).
    expect(artifact.bytecode.endsWith('a164736f6c6343000825000a')).toBe(true)
  })

  test('the ABI has the ERC-20 functions, the constructor and the custom errors', () => {
    const { abi } = build.artifact
    const ctor = find(abi, 'constructor')
    expect(ctor?.inputs.map((i) => [i.name, i.type])).toEqual([
      ['name_', 'string'],
      ['symbol_', 'string'],
      ['initialSupply', 'uint256'],
      ['recipient', 'address'],
    ])
    const functions: [string, string[], string[], string][] = [
      ['name', [], ['string'], 'view'],
      ['symbol', [], ['string'], 'view'],
      ['decimals', [], ['uint8'], 'view'],
      ['totalSupply', [], ['uint256'], 'view'],
      ['balanceOf', ['address'], ['uint256'], 'view'],
      ['allowance', ['address', 'address'], ['uint256'], 'view'],
      ['transfer', ['address', 'uint256'], ['bool'], 'nonpayable'],
      ['approve', ['address', 'uint256'], ['bool'], 'nonpayable'],
      ['transferFrom', ['address', 'address', 'uint256'], ['bool'], 'nonpayable'],
    ]
    for (const [name, inputs, outputs, mutability] of functions) {
      const fn = find(abi, 'function', name)
      expect({
        name,
        inputs: fn?.inputs.map((i) => i.type),
        outputs: fn?.outputs?.map((o) => o.type),
      }).toEqual({
        name,
        inputs,
        outputs,
      })
      expect(fn?.stateMutability).toBe(mutability)
    }
    expect(find(abi, 'event', 'Transfer')).toBeDefined()
    expect(find(abi, 'event', 'Approval')).toBeDefined()
    expect(find(abi, 'error', 'HeraldTokenZeroRecipient')?.inputs).toEqual([])
    expect(find(abi, 'error', 'HeraldTokenZeroSupply')?.inputs).toEqual([])
  })
})
