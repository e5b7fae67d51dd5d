/**
 * Typed wrappers over the parts of snarkjs 0.7 that Infraxa uses (snarkjs ships no types). Every
 * function here is a thin, documented pass-through; the module is loaded lazily so that importing
 * `@infraxa/zk` to verify never loads snarkjs (verification is done in `groth16.ts`).
 *
 * snarkjs runs curve arithmetic in ffjavascript worker threads that keep Node alive: call
 * {@link releaseSnarkjsThreads} when done.
 */

/** A Groth16 proof as snarkjs writes it (decimal strings, projective with z = 1). */
export interface SnarkjsProof {
  readonly pi_a: readonly [string, string, string]
  /** [[x.c0, x.c1], [y.c0, y.c1], [1, 0]]. */
  readonly pi_b: readonly [readonly [string, string], readonly [string, string], readonly [string, string]]
  readonly pi_c: readonly [string, string, string]
  readonly protocol: 'groth16'
  readonly curve: 'bn128'
}

/** A Groth16 verification key as `snarkjs zkey export verificationkey` writes it. */
export interface SnarkjsVerificationKey {
  readonly protocol: 'groth16'
  readonly curve: 'bn128'
  readonly nPublic: number
  readonly vk_alpha_1: readonly string[]
  readonly vk_beta_2: readonly (readonly string[])[]
  readonly vk_gamma_2: readonly (readonly string[])[]
  readonly vk_delta_2: readonly (readonly string[])[]
  readonly vk_alphabeta_12?: unknown
  readonly IC: readonly (readonly string[])[]
}

/** Circuit input signals: numbers, bigints or decimal strings, nested in arrays. */
export type CircuitInput = Record<string, unknown>

/** snarkjs's `{ type: 'mem' }` in-memory file (filled by the call that writes it). */
export interface MemFile {
  type: 'mem'
  data?: Uint8Array
}

type FileArg = string | MemFile

export interface SnarkjsLogger {
  debug(msg: string): void
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
}

/** The snarkjs API surface used by Infraxa, typed. */
export interface Snarkjs {
  readonly groth16: {
    fullProve(
      input: CircuitInput,
      wasm: FileArg,
      zkey: FileArg,
      logger?: SnarkjsLogger,
    ): Promise<{ proof: SnarkjsProof; publicSignals: string[] }>
    verify(
      vkey: SnarkjsVerificationKey,
      publicSignals: readonly string[],
      proof: SnarkjsProof,
      logger?: SnarkjsLogger,
    ): Promise<boolean>
  }
  readonly zKey: {
    newZKey(r1cs: FileArg, ptau: FileArg, zkey: FileArg, logger?: SnarkjsLogger): Promise<unknown>
    beacon(
      oldZkey: FileArg,
      newZkey: FileArg,
      name: string,
      beaconHashHex: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<unknown>
    exportVerificationKey(zkey: FileArg, logger?: SnarkjsLogger): Promise<SnarkjsVerificationKey>
    /** `snarkjs zkey verify`: the zkey is a setup of this r1cs over this ptau (every contribution checked). */
    verifyFromR1cs(r1cs: FileArg, ptau: FileArg, zkey: FileArg, logger?: SnarkjsLogger): Promise<boolean>
  }
  readonly powersOfTau: {
    newAccumulator(curve: unknown, power: number, ptau: FileArg, logger?: SnarkjsLogger): Promise<unknown>
    beacon(
      oldPtau: FileArg,
      newPtau: FileArg,
      name: string,
      beaconHashHex: string,
      numIterationsExp: number,
      logger?: SnarkjsLogger,
    ): Promise<unknown>
    preparePhase2(oldPtau: FileArg, newPtau: FileArg, logger?: SnarkjsLogger): Promise<unknown>
  }
  readonly wtns: {
    calculate(input: CircuitInput, wasm: FileArg, wtns: FileArg): Promise<void>
    exportJson(wtns: FileArg): Promise<bigint[]>
    check(r1cs: FileArg, wtns: FileArg, logger?: SnarkjsLogger): Promise<boolean>
  }
  readonly r1cs: {
    info(
      r1cs: FileArg,
      logger?: SnarkjsLogger,
    ): Promise<{
      nConstraints: number
      nPubInputs: number
      nOutputs: number
      nPrvInputs: number
      nVars: number
    }>
  }
  readonly curves: {
    getCurveFromName(
      name: 'bn128',
      options?: { singleThread?: boolean },
    ): Promise<{ terminate(): Promise<void> }>
  }
}

let loaded: Promise<Snarkjs> | undefined

/** Loads snarkjs (once). */
export function loadSnarkjs(): Promise<Snarkjs> {
  // A non-literal specifier: snarkjs is untyped, the interface above is its type.
  const specifier = 'snarkjs'
  loaded ??= import(specifier) as Promise<Snarkjs>
  return loaded
}

/** Terminates the ffjavascript worker threads snarkjs started (they keep Node alive otherwise). */
export async function releaseSnarkjsThreads(): Promise<void> {
  const curve = (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128
  if (curve) {
    await curve.terminate()
    ;(globalThis as { curve_bn128?: unknown }).curve_bn128 = undefined
  }
}
