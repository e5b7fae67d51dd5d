import { ed25519 } from '@noble/curves/ed25519.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { InvalidVrfInputError } from '../errors.js'

/**
 * ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381 §5, suite string 0x03): prove, verify, proof-to-hash.
 * Keys are Ed25519 keys (RFC 8032 secret key = 32-byte seed). Built on @noble/curves' point arithmetic;
 * only the VRF construction is ours, checked against all RFC 9381 Appendix B.3 vectors.
 */

const Point = ed25519.Point
type EdPoint = InstanceType<typeof Point>
const ORDER = Point.Fn.ORDER
const SUITE = 0x03
const C_LEN = 16
const PT_LEN = 32
const Q_LEN = 32
/** Length of a proof pi = Gamma ‖ c ‖ s. */
export const VRF_PROOF_BYTES = PT_LEN + C_LEN + Q_LEN
/** Length of the VRF output beta. */
export const VRF_OUTPUT_BYTES = 64

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function bytesToIntLE(bytes: Uint8Array): bigint {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!)
  return n
}

function intToBytesLE(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    out[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return out
}

/** RFC 8032 decoding (canonical only); undefined when the string is not a point. */
function stringToPoint(bytes: Uint8Array): EdPoint | undefined {
  try {
    return Point.fromBytes(bytes, false)
  } catch {
    return undefined
  }
}

function secretScalar(secretKey: Uint8Array): { x: bigint; hashed: Uint8Array } {
  const hashed = sha512(secretKey)
  const head = hashed.slice(0, 32)
  head[0]! &= 248
  head[31]! &= 127
  head[31]! |= 64
  return { x: bytesToIntLE(head), hashed }
}

/** The VRF public key (= the Ed25519 public key) of a 32-byte secret key. */
export function vrfPublicKey(secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== 32) throw new InvalidVrfInputError('secret key must be 32 bytes')
  return Point.BASE.multiply(secretScalar(secretKey).x % ORDER).toBytes()
}

/** RFC 9381 §5.4.1.1 encode_to_curve_try_and_increment, salt = public key string. */
function encodeToCurve(publicKey: Uint8Array, alpha: Uint8Array): EdPoint {
  for (let ctr = 0; ctr < 256; ctr++) {
    const hash = sha512(concat(new Uint8Array([SUITE, 0x01]), publicKey, alpha, new Uint8Array([ctr, 0x00])))
    const candidate = stringToPoint(hash.subarray(0, 32))
    if (candidate === undefined) continue
    const h = candidate.clearCofactor()
    if (!h.is0()) return h
  }
  // Probability 2^-256: RFC 9381 says to fail.
  throw new InvalidVrfInputError('encode_to_curve found no point')
}

/** RFC 9381 §5.4.3 challenge generation (5 points, truncated to 16 bytes). */
function challenge(points: EdPoint[]): bigint {
  const str = concat(new Uint8Array([SUITE, 0x02]), ...points.map((p) => p.toBytes()), new Uint8Array([0x00]))
  return bytesToIntLE(sha512(str).subarray(0, C_LEN))
}

/**
 * ECVRF_prove: the 80-byte proof pi for input `alpha` under `secretKey`.
 *
 * @example
 * const pi = vrfProve(secretKey, alpha)
 * const beta = vrfProofToHash(pi) // 64 bytes, the VRF output
 */
export function vrfProve(secretKey: Uint8Array, alpha: Uint8Array): Uint8Array {
  if (secretKey.length !== 32) throw new InvalidVrfInputError('secret key must be 32 bytes')
  const { x, hashed, Y, pk } = proverKey(secretKey)
  const H = encodeToCurve(pk, alpha)
  const hString = H.toBytes()
  const gamma = H.multiply(x % ORDER)
  // RFC 9381 §5.4.2.2 nonce generation (RFC 8032 style)
  const k = bytesToIntLE(sha512(concat(hashed.subarray(32, 64), hString))) % ORDER
  const c = challenge([Y, H, gamma, Point.BASE.multiply(k), H.multiply(k)])
  const s = (k + c * x) % ORDER
  const pi = concat(gamma.toBytes(), intToBytesLE(c, C_LEN), intToBytesLE(s, Q_LEN))
  remember(provedHere, proofId(pk, alpha, pi), vrfProofToHash(pi))
  return pi
}

// A router proves a challenge and then verifies it as part of the mode's check (the same code a third
// party runs on the receipt): a proof made here by vrfProve is valid by construction, so verifying that
// exact (public key, alpha, proof) again returns its output without the ~8 ms of point arithmetic.
// Only vrfProve writes this cache, and a hit needs all three byte strings equal.
const provedHere = new Map<string, Uint8Array>()
const proverKeys = new Map<string, { x: bigint; hashed: Uint8Array; Y: EdPoint; pk: Uint8Array }>()
const CACHED = 256

function remember<V>(cache: Map<string, V>, id: string, value: V): void {
  if (cache.size >= CACHED) cache.delete(cache.keys().next().value!)
  cache.set(id, value)
}

function proofId(pk: Uint8Array, alpha: Uint8Array, pi: Uint8Array): string {
  return `${bytesToHex(pk)}:${bytesToHex(alpha)}:${bytesToHex(pi)}`
}

/** The scalar, hash and public point of a secret key (derived once per key: a fixed-base multiplication). */
function proverKey(secretKey: Uint8Array) {
  const id = bytesToHex(sha512(secretKey))
  let key = proverKeys.get(id)
  if (key === undefined) {
    const { x, hashed } = secretScalar(secretKey)
    const Y = Point.BASE.multiply(x % ORDER)
    key = { x, hashed, Y, pk: Y.toBytes() }
    remember(proverKeys, id, key)
  }
  return key
}

function decodeProof(pi: Uint8Array): { gamma: EdPoint; c: bigint; s: bigint } | undefined {
  if (pi.length !== VRF_PROOF_BYTES) return undefined
  const gamma = stringToPoint(pi.subarray(0, PT_LEN))
  if (gamma === undefined) return undefined
  const c = bytesToIntLE(pi.subarray(PT_LEN, PT_LEN + C_LEN))
  const s = bytesToIntLE(pi.subarray(PT_LEN + C_LEN))
  if (s >= ORDER) return undefined
  return { gamma, c, s }
}

/** ECVRF_proof_to_hash: the 64-byte output beta of a proof (does not verify it). */
export function vrfProofToHash(pi: Uint8Array): Uint8Array {
  const decoded = decodeProof(pi)
  if (decoded === undefined) throw new InvalidVrfInputError('proof does not decode')
  return sha512(
    concat(new Uint8Array([SUITE, 0x03]), decoded.gamma.clearCofactor().toBytes(), new Uint8Array([0x00])),
  )
}

/**
 * ECVRF_verify with key validation: the output beta when `pi` is a valid proof for `alpha` under
 * `publicKey`, otherwise `undefined`. Never throws on peer-supplied bytes.
 */
export function vrfVerify(publicKey: Uint8Array, alpha: Uint8Array, pi: Uint8Array): Uint8Array | undefined {
  if (publicKey.length !== PT_LEN) return undefined
  const known = provedHere.get(proofId(publicKey, alpha, pi))
  if (known !== undefined) return Uint8Array.from(known)
  const Y = stringToPoint(publicKey)
  if (Y === undefined || Y.isSmallOrder()) return undefined
  const decoded = decodeProof(pi)
  if (decoded === undefined) return undefined
  const { gamma, c, s } = decoded
  const H = encodeToCurve(publicKey, alpha)
  // U = s·B − c·Y, V = s·H − c·Gamma (public values: variable-time arithmetic is fine)
  const U = Point.BASE.multiplyUnsafe(s).subtract(Y.multiplyUnsafe(c))
  const V = H.multiplyUnsafe(s).subtract(gamma.multiplyUnsafe(c))
  if (challenge([Y, H, gamma, U, V]) !== c) return undefined
  return vrfProofToHash(pi)
}
