/**
 * BN254 arithmetic for verification: ffjavascript's WebAssembly curve (the one snarkjs proves with),
 * built **single-threaded** so it starts no worker threads and runs in the caller's thread. Typed here
 * (ffjavascript ships no types); points are ffjavascript's buffers (Montgomery form, affine x ‖ y or
 * Jacobian x ‖ y ‖ z).
 */

/** A point buffer of ffjavascript. */
export type PointBuffer = Uint8Array

interface WasmGroup {
  readonly zeroAffine: PointBuffer
  fromObject(p: readonly unknown[]): PointBuffer
  isValid(p: PointBuffer): boolean
  isZero(p: PointBuffer): boolean
  timesScalar(p: PointBuffer, s: bigint): PointBuffer
  add(a: PointBuffer, b: PointBuffer): PointBuffer
  neg(p: PointBuffer): PointBuffer
  toAffine(p: PointBuffer): PointBuffer
  toJacobian(p: PointBuffer): PointBuffer
}

/** The part of ffjavascript's bn128 curve the verifier uses. */
export interface Bn254 {
  readonly G1: WasmGroup
  readonly G2: WasmGroup
  readonly Gt: {
    readonly one: Uint8Array
    mul(a: Uint8Array, b: Uint8Array): Uint8Array
    eq(a: Uint8Array, b: Uint8Array): boolean
  }
  prepareG1(p: PointBuffer): Uint8Array
  prepareG2(q: PointBuffer): Uint8Array
  millerLoop(preP: Uint8Array, preQ: Uint8Array): Uint8Array
  finalExponentiation(f: Uint8Array): Uint8Array
}

let curve: Promise<Bn254> | undefined

/** The single-threaded curve, compiled once per process (~0.2 s). */
export function bn254(): Promise<Bn254> {
  // A non-literal specifier: ffjavascript is untyped, the interface above is its type.
  const specifier = 'ffjavascript'
  curve ??= (import(specifier) as Promise<{ buildBn128(singleThread: boolean): Promise<Bn254> }>).then((m) =>
    m.buildBn128(true),
  )
  return curve
}
