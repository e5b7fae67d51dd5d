/**
 * `pnpm circuits:build` — compiles a window circuit, makes (or takes) a powers of tau, runs the Groth16
 * setup and writes the release artifacts with their hashes.
 *
 *   tsx circuits/scripts/build.ts [--circuit window_t16_k8] [--out circuits/build] [--ptau FILE]
 *   tsx circuits/scripts/build.ts --zkey FINAL.zkey [--ptau FILE]   adopt a ceremony's final zkey
 *   tsx circuits/scripts/build.ts --compile-only --out DIR           the r1cs and wasm (for a ceremony)
 *
 * Without --ptau it makes a powers of tau in node_modules/.cache/infraxa-zk/ptau (snarkjs `powersoftau new`, one
 * deterministic `beacon`, `prepare phase2`; 2^14: ~10 min on 2 cores) or reuses one made before. The
 * phase-2 contribution is again a deterministic beacon. Both beacons are public constants, so every
 * secret of this setup is public: anyone can rebuild it byte for byte, and anyone can forge proofs for
 * it. It is a development setup; docs/zk.md says how to run a multi-party ceremony for production
 * (--ptau with a public ceremony's file, then `snarkjs zkey contribute` by independent parties, then
 * --zkey to adopt the result: its verification key and hashes replace the development ones; with
 * --ptau too, `zkey verify` first checks the zkey against the compiled r1cs and that ptau).
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { basename, join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parseVerificationKey, verificationKeyHash } from '../../packages/zk/src/groth16.js'
import {
  CACHE_DIR,
  compile,
  log,
  mainPath,
  PTAU_BEACON,
  ptauPower,
  RELEASE_CIRCUIT,
  RELEASE_DIRS,
  ROOT,
  releaseThreads,
  sha256File,
  shapeOf,
  snarkjs,
  versions,
  ZKEY_BEACON,
} from './lib.js'

const { values } = parseArgs({
  options: {
    circuit: { type: 'string', default: RELEASE_CIRCUIT },
    out: { type: 'string' },
    ptau: { type: 'string' },
    zkey: { type: 'string' },
    'compile-only': { type: 'boolean', default: false },
  },
})
const circuit = values.circuit
const outDir = resolve(
  values.out ??
    (values['compile-only']
      ? join(CACHE_DIR, 'compile', circuit)
      : (RELEASE_DIRS[circuit] ?? join(CACHE_DIR, 'build', circuit))),
)
const { windowSize, topK, rule } = shapeOf(circuit)
const s = snarkjs()
const started = performance.now()
const secs = (t: number) => `${((performance.now() - t) / 1000).toFixed(1)} s`

/**
 * The cached development powers of tau of `power`, made if missing. Benchmark builds may reuse a larger
 * one; the release build always uses exactly its power, so that anyone can rebuild it byte for byte.
 */
async function devPtau(power: number, allowLarger: boolean): Promise<string> {
  const dir = join(CACHE_DIR, 'ptau')
  mkdirSync(dir, { recursive: true })
  for (let p = power; p <= (allowLarger ? 20 : power); p++) {
    const cached = join(dir, `pot${p}_final.ptau`)
    if (existsSync(cached)) {
      log(`powers of tau: reusing ${relative(ROOT, cached)}`)
      return cached
    }
  }
  const final = join(dir, `pot${power}_final.ptau`)
  const t = performance.now()
  const fresh = join(dir, `pot${power}_0000.ptau`)
  const beacon = join(dir, `pot${power}_beacon.ptau`)
  const partial = `${final}.partial`
  log(`powers of tau 2^${power}: new, beacon, prepare phase2 (slow: minutes)…`)
  await s.powersOfTau.newAccumulator(await curve(), power, fresh)
  await s.powersOfTau.beacon(fresh, beacon, PTAU_BEACON.name, PTAU_BEACON.hash, PTAU_BEACON.iterationsExp)
  await s.powersOfTau.preparePhase2(beacon, partial)
  renameSync(partial, final)
  for (const f of [fresh, beacon]) rmSync(f)
  log(`powers of tau 2^${power}: ${secs(t)}`)
  return final
}

async function curve() {
  return s.curves.getCurveFromName('bn128')
}

async function main() {
  const tmp = join(CACHE_DIR, 'tmp', circuit)
  rmSync(tmp, { recursive: true, force: true })
  let t = performance.now()
  const compiled = compile(mainPath(circuit), tmp)
  const info = await s.r1cs.info(compiled.r1cs)
  const power = ptauPower(info)
  log(
    `compiled ${circuit}: ${info.nConstraints} constraints, ${info.nPubInputs + info.nOutputs} public, 2^${power} domain (${secs(t)})`,
  )

  if (values['compile-only']) {
    mkdirSync(outDir, { recursive: true })
    for (const f of [compiled.r1cs, compiled.wasm]) {
      copyFileSync(f, join(outDir, basename(f)))
      log(`  ${relative(ROOT, join(outDir, basename(f)))}  sha256 ${sha256File(f)}`)
    }
    rmSync(tmp, { recursive: true, force: true })
    return
  }

  mkdirSync(outDir, { recursive: true })
  const zkey = join(outDir, `${circuit}.zkey`)
  t = performance.now()
  let setup: Record<string, unknown>
  if (values.zkey !== undefined) {
    const given = resolve(values.zkey)
    if (
      values.ptau !== undefined &&
      !(await s.zKey.verifyFromR1cs(compiled.r1cs, resolve(values.ptau), given))
    ) {
      throw new Error(`${given} is not a setup of ${circuit} over ${values.ptau}`)
    }
    copyFileSync(given, zkey)
    setup = {
      development: false,
      note: `final zkey of a phase-2 ceremony (${basename(given)})${values.ptau === undefined ? '' : ', verified against the r1cs and ptau'}`,
      ...(values.ptau === undefined
        ? {}
        : { ptau: { power, sha256: sha256File(resolve(values.ptau)), source: 'file' } }),
    }
  } else {
    const ptau =
      values.ptau === undefined
        ? await devPtau(power, RELEASE_DIRS[circuit] === undefined)
        : resolve(values.ptau)
    const zkey0 = join(tmp, `${circuit}_0000.zkey`)
    await s.zKey.newZKey(compiled.r1cs, ptau, zkey0)
    await s.zKey.beacon(zkey0, zkey, ZKEY_BEACON.name, ZKEY_BEACON.hash, ZKEY_BEACON.iterationsExp)
    setup = {
      development: true,
      note: 'one-party setup from public beacons: every secret is public, anyone can forge proofs',
      ptau:
        values.ptau === undefined
          ? {
              power,
              sha256: sha256File(ptau),
              source: 'beacon',
              beaconHash: PTAU_BEACON.hash,
              beaconIterationsExp: PTAU_BEACON.iterationsExp,
            }
          : { power, sha256: sha256File(ptau), source: 'file' },
      zkeyBeacon: ZKEY_BEACON,
    }
  }
  const vkeyJson = await s.zKey.exportVerificationKey(zkey)
  log(`groth16 setup: ${secs(t)}`)

  const vkeyPath = join(outDir, `${circuit}.vkey.json`)
  writeFileSync(vkeyPath, `${JSON.stringify(vkeyJson, null, 1)}\n`)
  const wasm = join(outDir, `${circuit}.wasm`)
  copyFileSync(compiled.wasm, wasm)
  const file = (p: string) => ({ path: basename(p), sha256: sha256File(p), bytes: statSync(p).size })
  const vkeyHash = Buffer.from(verificationKeyHash(parseVerificationKey(vkeyJson))).toString('hex')
  const manifest = {
    version: 1,
    circuit,
    main: relative(ROOT, mainPath(circuit)),
    windowSize,
    topK,
    ...(rule !== 'greedy' && { rule }),
    constraints: info.nConstraints,
    nPublic: info.nPubInputs + info.nOutputs,
    compiler: `circom2@${versions.circom2} --O2`,
    snarkjs: versions.snarkjs,
    circomlib: versions.circomlib,
    r1cs: { sha256: sha256File(compiled.r1cs), bytes: statSync(compiled.r1cs).size },
    files: { wasm: file(wasm), zkey: file(zkey), vkey: file(vkeyPath) },
    vkeyHash,
    setup,
  }
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  rmSync(tmp, { recursive: true, force: true })
  for (const f of readdirSync(outDir)) log(`  ${relative(ROOT, join(outDir, f))}`)
  log(
    `done in ${secs(started)}; zkey ${(manifest.files.zkey.bytes / 2 ** 20).toFixed(1)} MiB, vkey hash ${vkeyHash}`,
  )
}

try {
  await main()
} finally {
  await releaseThreads()
}
