import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { ZkArtifactError } from './errors.js'
import { type Groth16VerificationKey, parseVerificationKey, verificationKeyHash } from './groth16.js'
import type { SnarkjsVerificationKey } from './snarkjs.js'

/** One artifact file as recorded in the manifest. */
export interface ZkManifestFile {
  readonly path: string
  readonly sha256: string
  readonly bytes: number
}

/** `manifest.json` of a circuit build (written by `circuits/scripts/build.ts`). */
export interface ZkManifest {
  readonly version: 1
  readonly circuit: string
  /** The circom main, relative to the repository root. */
  readonly main: string
  readonly windowSize: number
  readonly topK: number
  /** The sampling rule the circuit proves; absent: `greedy`. */
  readonly rule?: ZkRule
  readonly constraints: number
  readonly nPublic: number
  readonly compiler: string
  readonly snarkjs: string
  readonly circomlib: string
  readonly r1cs: { readonly sha256: string; readonly bytes: number }
  readonly files: {
    readonly wasm: ZkManifestFile
    readonly zkey: ZkManifestFile
    readonly vkey: ZkManifestFile
  }
  /** sha256 of the canonical verification key encoding (ZkTranscriptProof.vkey_hash), hex. */
  readonly vkeyHash: string
  readonly setup: {
    /** `true` while every secret of the setup is derivable from public beacons: development only. */
    readonly development: boolean
    readonly note: string
    /** The powers of tau (phase 1), when known. */
    readonly ptau?: {
      readonly power: number
      readonly sha256: string
      /** `beacon`: made by the build with the development beacon; `file`: given with --ptau. */
      readonly source: 'beacon' | 'file'
      readonly beaconHash?: string
      readonly beaconIterationsExp?: number
    }
    /** The development phase-2 beacon. */
    readonly zkeyBeacon?: { readonly hash: string; readonly iterationsExp: number; readonly name: string }
  }
}

/**
 * The sampling rule a circuit proves: `greedy` (temperature 0) or `poseidon-gumbel` (temperature > 0,
 * the rule of `@infraxa/proofs/sampling`'s poseidon-gumbel.ts).
 */
export type ZkRule = 'greedy' | 'poseidon-gumbel'

/** Public inputs of a window besides its tokens: root, index, active (+ seed, tau when sampled). */
export function fixedPublicInputs(rule: ZkRule): number {
  return rule === 'greedy' ? 3 : 5
}

/** What a verifier needs: the verification key and the circuit's shape. */
export interface ZkVerifierArtifacts {
  readonly circuit: string
  readonly rule: ZkRule
  readonly windowSize: number
  readonly topK: number
  readonly vkey: Groth16VerificationKey
  /** sha256 of the canonical verification key encoding (ZkTranscriptProof.vkey_hash). */
  readonly vkeyHash: Uint8Array
}

/** What a prover needs on top: the witness generator and the proving key. */
export interface ZkArtifacts extends ZkVerifierArtifacts {
  readonly wasmPath: string
  readonly zkeyPath: string
  readonly manifest: ZkManifest
}

/** The committed release build of greedy answers: `circuits/build/` at the repository root. */
export const DEFAULT_ZK_ARTIFACTS_DIR = fileURLToPath(new URL('../../../circuits/build/', import.meta.url))
/** The committed release build of sampled answers (poseidon-gumbel): `circuits/build/sampled/`. */
export const DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR = fileURLToPath(
  new URL('../../../circuits/build/sampled/', import.meta.url),
)

/**
 * Loads a circuit build from `dir` (default: the committed release build): reads the manifest and the
 * verification key, checks the key's file hash and canonical hash against the manifest. The wasm and
 * zkey are only located (the CI check `circuits/scripts/check.ts` hashes them).
 *
 * @example
 * const artifacts = loadZkArtifacts()              // circuits/build (greedy)
 * const sampled = loadZkArtifacts(DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR)
 * const bench = loadZkArtifacts('node_modules/.cache/infraxa-zk/build/window_t8_k8')
 * @throws {ZkArtifactError} missing files, or a verification key that is not the manifest's
 */
export function loadZkArtifacts(dir: string = DEFAULT_ZK_ARTIFACTS_DIR): ZkArtifacts {
  const manifestPath = join(dir, 'manifest.json')
  if (!existsSync(manifestPath)) {
    throw new ZkArtifactError(`no manifest.json in ${dir}`, {
      details: 'Build the circuit with `pnpm circuits:build` (or pass the directory of another build).',
    })
  }
  let manifest: ZkManifest
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ZkManifest
  } catch (cause) {
    throw new ZkArtifactError(`unreadable manifest ${manifestPath}`, { cause })
  }
  if (manifest.version !== 1) throw new ZkArtifactError(`manifest version ${String(manifest.version)}`)
  const path = (f: ZkManifestFile) => {
    const p = join(dir, f.path)
    if (!existsSync(p)) throw new ZkArtifactError(`missing ${p}`)
    return p
  }
  const vkeyBytes = readFileSync(path(manifest.files.vkey))
  if (bytesToHex(sha256(vkeyBytes)) !== manifest.files.vkey.sha256) {
    throw new ZkArtifactError(`${manifest.files.vkey.path} does not match the manifest's sha256`)
  }
  const vkey = parseVerificationKey(JSON.parse(vkeyBytes.toString('utf8')) as SnarkjsVerificationKey)
  const vkeyHash = verificationKeyHash(vkey)
  if (bytesToHex(vkeyHash) !== manifest.vkeyHash) {
    throw new ZkArtifactError('the verification key hash differs from the manifest')
  }
  const rule = manifest.rule ?? 'greedy'
  if (rule !== 'greedy' && rule !== 'poseidon-gumbel')
    throw new ZkArtifactError(`unknown rule ${String(rule)}`)
  if (vkey.nPublic !== fixedPublicInputs(rule) + manifest.windowSize) {
    throw new ZkArtifactError(
      `verification key has ${vkey.nPublic} public inputs for a ${rule} circuit with T = ${manifest.windowSize}`,
    )
  }
  return {
    circuit: manifest.circuit,
    rule,
    windowSize: manifest.windowSize,
    topK: manifest.topK,
    vkey,
    vkeyHash,
    wasmPath: path(manifest.files.wasm),
    zkeyPath: path(manifest.files.zkey),
    manifest,
  }
}
