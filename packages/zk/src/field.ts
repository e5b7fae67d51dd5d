import { MalformedZkProofError } from './errors.js'

/** The BN254 scalar field modulus r: circuit signals, Poseidon inputs and outputs live in [0, r). */
export const BN254_R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n
/** The BN254 base field modulus q: coordinates of proof points live in [0, q). */
export const BN254_Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n

/** A non-negative integer below 2^256 as 32 bytes, big-endian. */
export function toBytes32(value: bigint): Uint8Array {
  if (value < 0n || value >> 256n !== 0n) throw new RangeError(`${value} does not fit 32 bytes`)
  const out = new Uint8Array(32)
  let v = value
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

/** 32 bytes, big-endian, as an integer. */
export function fromBytes32(bytes: Uint8Array, offset = 0): bigint {
  let v = 0n
  for (let i = 0; i < 32; i++) v = (v << 8n) | BigInt(bytes[offset + i]!)
  return v
}

/**
 * A field element from its 32-byte big-endian encoding.
 *
 * @throws {MalformedZkProofError} not 32 bytes, or not canonical (≥ r)
 */
export function fieldFromBytes(bytes: Uint8Array, what = 'field element'): bigint {
  if (bytes.length !== 32) throw new MalformedZkProofError(`${what} of ${bytes.length} bytes (32 expected)`)
  const v = fromBytes32(bytes)
  if (v >= BN254_R) throw new MalformedZkProofError(`${what} is not below the BN254 scalar field modulus`)
  return v
}
