/**
 * `pnpm circuits:check` — the CI check of the committed circuit artifacts, without the slow setup:
 *
 * 1. the committed sources compile (circom2, --O2) to the r1cs and wasm whose hashes the manifest
 *    records, and the committed wasm is that wasm;
 * 2. every committed artifact matches the manifest's sha256;
 * 3. the committed verification key is the one the committed zkey exports, its canonical hash is the
 *    manifest's `vkeyHash`, and its public input count is the r1cs's;
 * 4. `circuits/src/gumbel_table.circom` is the table `@infraxa/proofs` samples with.
 *
 * Every release build (circuits/build, circuits/build/sampled), or one given directory:
 *
 *   tsx circuits/scripts/check.ts [--dir circuits/build]
 *
 * Exits 1 on any mismatch (~20 s on 2 cores).
 */
import { readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { isDeepStrictEqual, parseArgs } from 'node:util'
import type { ZkManifest } from '../../packages/zk/src/artifacts.js'
import { parseVerificationKey, verificationKeyHash } from '../../packages/zk/src/groth16.js'
import { gumbelTableIsCurrent } from './gumbel-table.js'
import {
  BUILD_DIR,
  CACHE_DIR,
  compile,
  log,
  RELEASE_DIRS,
  ROOT,
  releaseThreads,
  sha256File,
  snarkjs,
} from './lib.js'

export interface CheckResult {
  readonly ok: boolean
  readonly lines: readonly string[]
}

/** Runs the check on a build directory; never throws for a mismatch (it is reported). */
export async function checkArtifacts(dir: string = BUILD_DIR): Promise<CheckResult> {
  const lines: string[] = []
  let ok = true
  const expect = (cond: boolean, what: string) => {
    lines.push(`${cond ? 'ok  ' : 'FAIL'} ${what}`)
    if (!cond) ok = false
  }
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ZkManifest
  const s = snarkjs()

  const tmp = join(CACHE_DIR, 'check', manifest.circuit)
  rmSync(tmp, { recursive: true, force: true })
  const compiled = compile(join(ROOT, manifest.main), tmp)
  expect(sha256File(compiled.r1cs) === manifest.r1cs.sha256, `${manifest.main} compiles to the recorded r1cs`)
  expect(
    sha256File(compiled.wasm) === manifest.files.wasm.sha256,
    `${manifest.main} compiles to the recorded witness wasm`,
  )
  for (const [name, f] of Object.entries(manifest.files)) {
    expect(sha256File(join(dir, f.path)) === f.sha256, `${name} ${f.path} matches its recorded sha256`)
  }
  const committed = JSON.parse(readFileSync(join(dir, manifest.files.vkey.path), 'utf8'))
  const exported = await s.zKey.exportVerificationKey(join(dir, manifest.files.zkey.path))
  expect(
    isDeepStrictEqual(committed, JSON.parse(JSON.stringify(exported))),
    'the verification key is the zkey’s',
  )
  const hash = Buffer.from(verificationKeyHash(parseVerificationKey(exported))).toString('hex')
  expect(hash === manifest.vkeyHash, 'the verification key hash is the manifest’s vkeyHash')
  const info = await s.r1cs.info(compiled.r1cs)
  expect(
    info.nPubInputs + info.nOutputs === exported.nPublic && info.nConstraints === manifest.constraints,
    `public inputs (${exported.nPublic}) and constraints (${info.nConstraints}) agree`,
  )
  rmSync(tmp, { recursive: true, force: true })
  return { ok, lines }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({ options: { dir: { type: 'string' } } })
  try {
    const started = performance.now()
    const dirs = values.dir === undefined ? Object.values(RELEASE_DIRS) : [resolve(values.dir)]
    let ok = gumbelTableIsCurrent()
    log(`${ok ? 'ok  ' : 'FAIL'} circuits/src/gumbel_table.circom is the table of @infraxa/proofs/sampling`)
    for (const dir of dirs) {
      const result = await checkArtifacts(dir)
      for (const line of result.lines) log(line)
      ok &&= result.ok
    }
    log(
      `${ok ? 'circuit artifacts OK' : 'circuit artifacts DO NOT MATCH'} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    )
    process.exitCode = ok ? 0 : 1
  } finally {
    await releaseThreads()
  }
}
