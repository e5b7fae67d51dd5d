/**
 * Shared helpers of the circuit scripts: paths, the snarkjs and circom2 that `@infraxa/zk` depends
 * on (resolved from its package, so circuits are built with exactly the library's versions), hashing.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Snarkjs } from '../../packages/zk/src/snarkjs.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CIRCUITS = join(ROOT, 'circuits')
export const BUILD_DIR = join(CIRCUITS, 'build')
/** Powers of tau, scratch compiles and benchmark builds: never committed, never linted. */
export const CACHE_DIR = join(ROOT, 'node_modules/.cache/infraxa-zk')
/** The release circuit of greedy answers. */
export const RELEASE_CIRCUIT = 'window_t16_k8'
/** The release circuit of sampled answers (poseidon-gumbel), built into `circuits/build/sampled`. */
export const SAMPLED_RELEASE_CIRCUIT = 'sampled_t8_k8'
/** Where each release circuit's build is committed. */
export const RELEASE_DIRS: Readonly<Record<string, string>> = {
  [RELEASE_CIRCUIT]: BUILD_DIR,
  [SAMPLED_RELEASE_CIRCUIT]: join(BUILD_DIR, 'sampled'),
}

const zkRequire = createRequire(join(ROOT, 'packages/zk/package.json'))

/** The version of a dependency of @infraxa/zk (snarkjs does not export its package.json). */
function versionOf(name: string): string {
  let dir = dirname(zkRequire.resolve(name))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version: string }
      if (pkg.name === name) return pkg.version
    }
    if (dirname(dir) === dir) throw new Error(`no package.json for ${name}`)
    dir = dirname(dir)
  }
}

export const versions = {
  snarkjs: versionOf('snarkjs'),
  circom2: versionOf('circom2'),
  circomlib: versionOf('circomlib'),
}

/** snarkjs, typed (the CommonJS build: same code as the ES module the library loads). */
export function snarkjs(): Snarkjs {
  return zkRequire('snarkjs') as Snarkjs
}

/** Stops snarkjs's worker threads so the script can exit. */
export async function releaseThreads(): Promise<void> {
  const curve = (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128
  if (curve) await curve.terminate()
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
export const sha256File = (path: string): string => sha256Hex(readFileSync(path))

/** Where a circuit's main lives: release and benchmark mains in circuits/main, test mains in circuits/test. */
export function mainPath(circuit: string): string {
  for (const dir of ['main', 'test']) {
    const p = join(CIRCUITS, dir, `${circuit}.circom`)
    if (existsSync(p)) return p
  }
  throw new Error(`no circuits/main/${circuit}.circom or circuits/test/${circuit}.circom`)
}

/** T, K and the rule from a name like window_t16_k8 (greedy) or sampled_t8_k8 (poseidon-gumbel). */
export function shapeOf(circuit: string): {
  windowSize: number
  topK: number
  rule: 'greedy' | 'poseidon-gumbel'
} {
  const m = /^(window|sampled)_t(\d+)_k(\d+)$/.exec(circuit)
  if (!m) throw new Error(`cannot read T and K from circuit name ${circuit}`)
  return {
    windowSize: Number(m[2]),
    topK: Number(m[3]),
    rule: m[1] === 'sampled' ? 'poseidon-gumbel' : 'greedy',
  }
}

export interface Compiled {
  readonly r1cs: string
  readonly wasm: string
  readonly log: string
}

/** The node_modules directory that holds circomlib (its real path: pnpm links it into packages/zk). */
export function circomlibNodeModules(): string {
  return dirname(dirname(zkRequire.resolve('circomlib/package.json')))
}

/**
 * Compiles a circom main with circom2 (the WASM build of circom from npm) with `--O2`, into `outDir`.
 * circom2 sees the file system through WASI pre-opens of the working directory and its parents, so it
 * runs from the repository root with relative paths. Output is byte-identical run to run.
 */
export function compile(main: string, outDir: string): Compiled {
  mkdirSync(outDir, { recursive: true })
  const cli = zkRequire.resolve('circom2/cli.js')
  // circomlib's real directory (pnpm links it from packages/zk/node_modules).
  const circomlibParent = circomlibNodeModules()
  const args = [
    cli,
    relative(ROOT, main),
    '--r1cs',
    '--wasm',
    '--O2',
    '-l',
    relative(ROOT, circomlibParent),
    '-o',
    relative(ROOT, outDir),
  ]
  const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' })
  const log = `${run.stdout ?? ''}${run.stderr ?? ''}`
  if (run.status !== 0) throw new Error(`circom2 failed (exit ${run.status}):\n${log}`)
  const name = main.replace(/^.*\//, '').replace(/\.circom$/, '')
  return { r1cs: join(outDir, `${name}.r1cs`), wasm: join(outDir, `${name}_js`, `${name}.wasm`), log }
}

/** snarkjs's domain size rule for Groth16: 2^power ≥ constraints + public inputs + outputs + 1. */
export function ptauPower(info: { nConstraints: number; nPubInputs: number; nOutputs: number }): number {
  return Math.floor(Math.log2(info.nConstraints + info.nPubInputs + info.nOutputs)) + 1
}

/** Deterministic development beacons (documented in docs/zk.md): public values, hence no secret at all. */
export const PTAU_BEACON = {
  hash: sha256Hex(new TextEncoder().encode('infraxa/zk/dev-beacon/v1')),
  iterationsExp: 10,
  name: 'infraxa dev ptau beacon',
}
export const ZKEY_BEACON = {
  hash: sha256Hex(new TextEncoder().encode('infraxa/zk/dev-zkey-beacon/v1')),
  iterationsExp: 10,
  name: 'infraxa dev zkey beacon',
}

export const log = (msg: string) => process.stdout.write(`${msg}\n`)
