import { interleavedMSMUnsafe } from '@noble/curves/abstract/curve.js'
import { bn254 } from '@noble/curves/bn254.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { MalformedZkProofError } from './errors.js'
import { BN254_Q, BN254_R, fromBytes32, toBytes32 } from './field.js'
import type { SnarkjsProof, SnarkjsVerificationKey } from './snarkjs.js'

/**
 * Groth16 over BN254 without snarkjs: the 256-byte proof encoding of `ZkWindowProof.proof`, the
 * verification key's canonical hash, and verification (single and batched) with `@noble/curves`,
 * which runs in the caller's thread and starts no worker threads.
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

type G1Point = InstanceType<typeof bn254.G1.Point>
type G2Point = InstanceType<typeof bn254.G2.Point>
type Precompute = ReturnType<typeof bn254.utils.calcPairingPrecomputes>
type Fp12 = ReturnType<typeof bn254.pairing>

const { Fp2, Fp12 } = bn254.fields
const G1 = bn254.G1.Point

/** A key's points, validated, with what every verification reuses precomputed. */
interface PreparedKey {
  readonly alpha: G1Point
  /** e(alpha, beta), final-exponentiated. */
  readonly alphaBeta: Fp12
  /** Σ scalars_j · [IC_0, IC_1, …]_j over fixed-point tables. */
  readonly ic: (scalars: bigint[]) => G1Point
  readonly beta: Precompute
  readonly gamma: Precompute
  readonly delta: Precompute
}

const prepared = new WeakMap<Groth16VerificationKey, PreparedKey>()

function g1Point(p: G1Affine): G1Point {
  const point = G1.fromAffine({ x: p.x, y: p.y })
  point.assertValidity()
  return point
}

function g2Point(p: G2Affine): G2Point {
  const point = bn254.G2.Point.fromAffine({
    x: Fp2.create({ c0: p.x.c0, c1: p.x.c1 }),
    y: Fp2.create({ c0: p.y.c0, c1: p.y.c1 }),
  })
  // On the curve and in the order-r subgroup (G2 has a cofactor on BN254).
  point.assertValidity()
  return point
}

function prepare(vkey: Groth16VerificationKey): PreparedKey {
  let p = prepared.get(vkey)
  if (p === undefined) {
    const pre = (q: G2Affine) => bn254.utils.calcPairingPrecomputes(g2Point(q))
    const alpha = g1Point(vkey.alpha)
    const beta = g2Point(vkey.beta)
    p = {
      alpha,
      alphaBeta: bn254.pairing(alpha, beta),
      ic: interleavedMSMUnsafe(G1, vkey.ic.map(g1Point), 4),
      beta: bn254.utils.calcPairingPrecomputes(beta),
      gamma: pre(vkey.gamma),
      delta: pre(vkey.delta),
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
 * `Π e(−r_i A_i, B_i) · e(Σ r_i vk_x_i, γ) · e(Σ r_i C_i, δ) · e(α, β)^{Σ r_i} = 1` — n + 2 Miller
 * loops and one final exponentiation instead of 3n and n (e(α, β) is precomputed); a batch
 * with an invalid proof passes with probability ≤ 2^−127. Resolves false for anything malformed: wrong
 * signal count, signals ≥ r, coordinates off the curve or (B) outside the G2 subgroup, points at
 * infinity.
 *
 * @example
 * verifyGroth16(vkey, [{ publicSignals, proof: bytes }]) // true
 */
export function verifyGroth16(
  vkey: Groth16VerificationKey,
  statements: readonly Groth16Statement[],
): boolean {
  if (statements.length === 0) return true
  try {
    const key = prepare(vkey)
    const pairs: [Precompute, bigint, bigint][] = []
    let vkX: G1Point = G1.ZERO
    let cSum: G1Point = G1.ZERO
    let rSum = 0n
    for (const [i, { publicSignals, proof: encoded }] of statements.entries()) {
      if (publicSignals.length !== vkey.nPublic) return false
      if (publicSignals.some((s) => s < 0n || s >= BN254_R)) return false
      const proof = encoded instanceof Uint8Array ? decodeProof(encoded) : encoded
      const a = g1Point(proof.a)
      const b = g2Point(proof.b)
      const c = g1Point(proof.c)
      if (a.is0() || b.is0() || c.is0()) return false
      const r = i === 0 ? 1n : randomWeight()
      const ra = (r === 1n ? a : a.multiplyUnsafe(r)).negate().toAffine()
      pairs.push([bn254.utils.calcPairingPrecomputes(b), ra.x, ra.y])
      cSum = cSum.add(r === 1n ? c : c.multiplyUnsafe(r))
      // Per statement: the public signals are mostly small (tokens, positions), which keeps the
      // fixed-base MSM short; one 128-bit multiplication then weights it.
      const x = key.ic([1n, ...publicSignals])
      vkX = vkX.add(r === 1n ? x : x.multiplyUnsafe(r))
      rSum += r
    }
    if (vkX.is0() || cSum.is0()) return false
    const x = vkX.toAffine()
    const c = cSum.toAffine()
    pairs.push([key.gamma, x.x, x.y], [key.delta, c.x, c.y])
    const product = Fp12.finalExponentiate(bn254.millerLoopBatch(pairs))
    const ab = rSum === 1n ? key.alphaBeta : Fp12.pow(key.alphaBeta, rSum)
    return Fp12.eql(Fp12.mul(product, ab), Fp12.ONE)
  } catch {
    return false
  }
}
