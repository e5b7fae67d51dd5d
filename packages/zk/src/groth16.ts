import { sha256 } from '@noble/hashes/sha2.js'
import { type Bn254, bn254, type PointBuffer } from './bn254.js'
import { MalformedZkProofError } from './errors.js'
import { BN254_Q, BN254_R, fromBytes32, toBytes32 } from './field.js'
import type { SnarkjsProof, SnarkjsVerificationKey } from './snarkjs.js'

/**
 * Groth16 over BN254 without snarkjs: the 256-byte proof encoding of `ZkWindowProof.proof`, the
 * verification key's canonical hash, and verification (single and batched) with ffjavascript's
 * WebAssembly curve built single-threaded, which runs in the caller's thread and starts no worker threads.
 */

/** An affine G1 point. */
export interface G1Affine {
  readonly x: bigint
  readonly y: bigint
}
/** An element c0 + c1·u of Fp². */
export interface Fp2Element {
  readonly c0: bigint
  readonly c1: bigint
}
/** An affine G2 point. */
export interface G2Affine {
  readonly x: Fp2Element
  readonly y: Fp2Element
}

/** A Groth16 verification key (BN254), parsed from snarkjs's JSON. */
export interface Groth16VerificationKey {
  readonly nPublic: number
  readonly alpha: G1Affine
  readonly beta: G2Affine
  readonly gamma: G2Affine
  readonly delta: G2Affine
  /** nPublic + 1 points: IC[0] + Σ public_i · IC[i+1]. */
  readonly ic: readonly G1Affine[]
}

/** A Groth16 proof (BN254). */
export interface Groth16Proof {
  readonly a: G1Affine
  readonly b: G2Affine
  readonly c: G1Affine
}

/** Bytes of an encoded proof: pi_a (x, y), pi_b (x.c0, x.c1, y.c0, y.c1), pi_c (x, y), 32 B big-endian each. */
export const GROTH16_PROOF_BYTES = 256

const big = (s: string | undefined, what: string): bigint => {
  if (s === undefined || !/^[0-9]+$/.test(s))
    throw new MalformedZkProofError(`${what} is not a decimal integer`)
  return BigInt(s)
}

function g1FromJson(p: readonly string[] | undefined, what: string): G1Affine {
  if (p === undefined || p[2] !== '1') throw new MalformedZkProofError(`${what} is not an affine G1 point`)
  return { x: big(p[0], what), y: big(p[1], what) }
}

function g2FromJson(p: readonly (readonly string[])[] | undefined, what: string): G2Affine {
  if (p === undefined || p[2]?.[0] !== '1' || p[2]?.[1] !== '0') {
    throw new MalformedZkProofError(`${what} is not an affine G2 point`)
  }
  return {
    x: { c0: big(p[0]?.[0], what), c1: big(p[0]?.[1], what) },
    y: { c0: big(p[1]?.[0], what), c1: big(p[1]?.[1], what) },
  }
}

/**
 * Parses a verification key as `snarkjs zkey export verificationkey` writes it.
 *
 * @throws {MalformedZkProofError} not a BN254 Groth16 key
 */
export function parseVerificationKey(json: SnarkjsVerificationKey): Groth16VerificationKey {
  if (json?.protocol !== 'groth16' || json.curve !== 'bn128') {
    throw new MalformedZkProofError('verification key is not a BN254 Groth16 key')
  }
  if (!Number.isInteger(json.nPublic) || json.IC?.length !== json.nPublic + 1) {
    throw new MalformedZkProofError('verification key: IC does not have nPublic + 1 points')
  }
  return {
    nPublic: json.nPublic,
    alpha: g1FromJson(json.vk_alpha_1, 'vk_alpha_1'),
    beta: g2FromJson(json.vk_beta_2, 'vk_beta_2'),
    gamma: g2FromJson(json.vk_gamma_2, 'vk_gamma_2'),
    delta: g2FromJson(json.vk_delta_2, 'vk_delta_2'),
    ic: json.IC.map((p, i) => g1FromJson(p, `IC[${i}]`)),
  }
}

const VKEY_HASH_TAG = new TextEncoder().encode('infraxa/zk/groth16-bn254-vkey/v1')

/**
 * sha256 of the canonical encoding of a verification key (what `ZkTranscriptProof.vkey_hash` carries):
 * the ASCII tag `infraxa/zk/groth16-bn254-vkey/v1`, nPublic as u32 big-endian, then alpha (x, y), beta,
 * gamma, delta (x.c0, x.c1, y.c0, y.c1) and every IC point (x, y), 32 bytes big-endian each.
 */
export function verificationKeyHash(vkey: Groth16VerificationKey): Uint8Array {
  const g2 = (p: G2Affine) => [p.x.c0, p.x.c1, p.y.c0, p.y.c1]
  const coords = [
    vkey.alpha.x,
    vkey.alpha.y,
    ...g2(vkey.beta),
    ...g2(vkey.gamma),
    ...g2(vkey.delta),
    ...vkey.ic.flatMap((p) => [p.x, p.y]),
  ]
  const out = new Uint8Array(VKEY_HASH_TAG.length + 4 + 32 * coords.length)
  out.set(VKEY_HASH_TAG)
  new DataView(out.buffer).setUint32(VKEY_HASH_TAG.length, vkey.nPublic)
  coords.forEach((c, i) => {
    out.set(toBytes32(c), VKEY_HASH_TAG.length + 4 + 32 * i)
  })
  return sha256(out)
}

/** Encodes a snarkjs proof into the 256 bytes of `ZkWindowProof.proof`. */
export function encodeProof(proof: SnarkjsProof): Uint8Array {
  const a = g1FromJson(proof.pi_a, 'pi_a')
  const b = g2FromJson(proof.pi_b, 'pi_b')
  const c = g1FromJson(proof.pi_c, 'pi_c')
  const coords = [a.x, a.y, b.x.c0, b.x.c1, b.y.c0, b.y.c1, c.x, c.y]
  const out = new Uint8Array(GROTH16_PROOF_BYTES)
  coords.forEach((v, i) => {
    if (v >= BN254_Q) throw new MalformedZkProofError('proof coordinate is not below the base field modulus')
    out.set(toBytes32(v), 32 * i)
  })
  return out
}

/**
 * Decodes the 256 bytes of `ZkWindowProof.proof` (structure only: curve membership is checked by the
 * verifier).
 *
 * @throws {MalformedZkProofError} wrong length or non-canonical coordinates
 */
export function decodeProof(bytes: Uint8Array): Groth16Proof {
  if (bytes.length !== GROTH16_PROOF_BYTES) {
    throw new MalformedZkProofError(`proof of ${bytes.length} bytes (${GROTH16_PROOF_BYTES} expected)`)
  }
  const c = Array.from({ length: 8 }, (_, i) => fromBytes32(bytes, 32 * i))
  if (c.some((v) => v >= BN254_Q)) {
    throw new MalformedZkProofError('proof coordinate is not below the base field modulus')
  }
  return {
    a: { x: c[0]!, y: c[1]! },
    b: { x: { c0: c[2]!, c1: c[3]! }, y: { c0: c[4]!, c1: c[5]! } },
    c: { x: c[6]!, y: c[7]! },
  }
}

/** The snarkjs JSON form of a proof (for `snarkjs.groth16.verify`, Solidity calldata and the like). */
export function toSnarkjsProof(proof: Groth16Proof): SnarkjsProof {
  const s = (v: bigint) => v.toString()
  return {
    pi_a: [s(proof.a.x), s(proof.a.y), '1'],
    pi_b: [
      [s(proof.b.x.c0), s(proof.b.x.c1)],
      [s(proof.b.y.c0), s(proof.b.y.c1)],
      ['1', '0'],
    ],
    pi_c: [s(proof.c.x), s(proof.c.y), '1'],
    protocol: 'groth16',
    curve: 'bn128',
  }
}

/** A key's points, validated, with what every verification reuses precomputed. */
interface PreparedKey {
  readonly alpha: PointBuffer
  readonly ic: readonly PointBuffer[]
  readonly beta: Uint8Array
  readonly gamma: Uint8Array
  readonly delta: Uint8Array
}

const prepared = new WeakMap<Groth16VerificationKey, PreparedKey>()

/** An affine G1 point on the curve, or undefined (BN254's G1 has no cofactor). */
function g1Point(curve: Bn254, p: G1Affine): PointBuffer | undefined {
  const point = curve.G1.fromObject([p.x, p.y, 1n])
  return curve.G1.isZero(point) || !curve.G1.isValid(point) ? undefined : point
}

/** An affine G2 point on the curve and in the order-r subgroup (G2 has a cofactor on BN254), or undefined. */
function g2Point(curve: Bn254, p: G2Affine): PointBuffer | undefined {
  const point = curve.G2.fromObject([
    [p.x.c0, p.x.c1],
    [p.y.c0, p.y.c1],
    [1n, 0n],
  ])
  if (curve.G2.isZero(point) || !curve.G2.isValid(point)) return undefined
  return curve.G2.isZero(curve.G2.timesScalar(point, BN254_R)) ? point : undefined
}

function prepare(curve: Bn254, vkey: Groth16VerificationKey): PreparedKey {
  let p = prepared.get(vkey)
  if (p === undefined) {
    const need = <T>(point: T | undefined, what: string): T => {
      if (point === undefined)
        throw new MalformedZkProofError(`verification key: ${what} is not a valid point`)
      return point
    }
    const pre = (q: G2Affine, what: string) =>
      curve.prepareG2(curve.G2.toJacobian(need(g2Point(curve, q), what)))
    p = {
      alpha: need(g1Point(curve, vkey.alpha), 'alpha'),
      ic: vkey.ic.map((q, i) => need(g1Point(curve, q), `IC[${i}]`)),
      beta: pre(vkey.beta, 'beta'),
      gamma: pre(vkey.gamma, 'gamma'),
      delta: pre(vkey.delta, 'delta'),
    }
    prepared.set(vkey, p)
  }
  return p
}

/** One proof with the public signals the verifier rebuilt itself. */
export interface Groth16Statement {
  readonly publicSignals: readonly bigint[]
  readonly proof: Uint8Array | Groth16Proof
}

/** A 128-bit weight from the verifier's CSPRNG (never 0). */
function randomWeight(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return BigInt(`0x${Buffer.from(bytes).toString('hex')}`) | 1n
}

/**
 * Checks Groth16 proofs against one verification key:
 * `e(A, B) = e(α, β) · e(IC_0 + Σ s_j IC_j, γ) · e(C, δ)`. Several statements are checked at once with
 * 128-bit random weights r_i chosen here (r_0 = 1):
 * `Π e(−r_i A_i, B_i) · e(Σ r_i vk_x_i, γ) · e(Σ r_i C_i, δ) · e((Σ r_i) α, β) = 1` — n + 3 Miller
 * loops and one final exponentiation instead of 4n and n; a batch with an invalid proof passes with
 * probability ≤ 2^−127. Resolves false for anything malformed: wrong signal count, signals ≥ r,
 * coordinates off the curve or (B) outside the G2 subgroup, points at infinity.
 *
 * The arithmetic is ffjavascript's WebAssembly BN254, single-threaded in the caller's thread (see
 * `bn254.ts`); the first call compiles it (~0.2 s).
 *
 * @example
 * await verifyGroth16(vkey, [{ publicSignals, proof: bytes }]) // true
 */
export async function verifyGroth16(
  vkey: Groth16VerificationKey,
  statements: readonly Groth16Statement[],
): Promise<boolean> {
  if (statements.length === 0) return true
  const curve = await bn254()
  const { G1 } = curve
  let key: PreparedKey
  try {
    key = prepare(curve, vkey)
  } catch {
    return false
  }
  let f = curve.Gt.one
  let vkX = G1.zeroAffine
  let cSum = G1.zeroAffine
  let rSum = 0n
  for (const [i, { publicSignals, proof: encoded }] of statements.entries()) {
    if (publicSignals.length !== vkey.nPublic) return false
    if (publicSignals.some((s) => s < 0n || s >= BN254_R)) return false
    let proof: Groth16Proof
    try {
      proof = encoded instanceof Uint8Array ? decodeProof(encoded) : encoded
    } catch {
      return false
    }
    if (proof.a.x >= BN254_Q || proof.a.y >= BN254_Q || proof.c.x >= BN254_Q || proof.c.y >= BN254_Q)
      return false
    if ([proof.b.x.c0, proof.b.x.c1, proof.b.y.c0, proof.b.y.c1].some((v) => v >= BN254_Q)) return false
    const a = g1Point(curve, proof.a)
    const b = g2Point(curve, proof.b)
    const c = g1Point(curve, proof.c)
    if (a === undefined || b === undefined || c === undefined) return false
    const r = i === 0 ? 1n : randomWeight()
    const weigh = (p: PointBuffer) => (r === 1n ? p : G1.timesScalar(p, r))
    const ra = G1.neg(weigh(a))
    f = curve.Gt.mul(
      f,
      curve.millerLoop(curve.prepareG1(G1.toJacobian(ra)), curve.prepareG2(curve.G2.toJacobian(b))),
    )
    cSum = G1.add(cSum, weigh(c))
    // IC_0 + Σ s_j IC_j: the public signals are mostly small (tokens, positions), so one short scalar
    // multiplication each; zeros (padding) cost nothing.
    let x = key.ic[0]!
    for (const [j, s] of publicSignals.entries()) {
      if (s !== 0n) x = G1.add(x, G1.timesScalar(key.ic[j + 1]!, s))
    }
    vkX = G1.add(vkX, weigh(x))
    rSum += r
  }
  if (G1.isZero(vkX) || G1.isZero(cSum)) return false
  const alpha = G1.timesScalar(key.alpha, rSum)
  for (const [p, q] of [
    [vkX, key.gamma],
    [cSum, key.delta],
    [alpha, key.beta],
  ] as const) {
    f = curve.Gt.mul(f, curve.millerLoop(curve.prepareG1(G1.toJacobian(p)), q))
  }
  return curve.Gt.eq(curve.finalExponentiation(f), curve.Gt.one)
}
