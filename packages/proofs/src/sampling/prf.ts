import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'

const TAG = new TextEncoder().encode('infraxa/sample/v1')
const TWO_POW_53 = 2 ** 53

/** The HMAC key for a sampling seed: the seed as u64 big-endian. */
export function samplingKey(seed: bigint): Uint8Array {
  const key = new Uint8Array(8)
  new DataView(key.buffer).setBigUint64(0, BigInt.asUintN(64, seed))
  return key
}

/**
 * Uniform noise in (0, 1) for one candidate at one step:
 * `x = first 8 bytes (u64 big-endian) of HMAC-SHA256(u64be(seed), "infraxa/sample/v1" ‖ u32be(step) ‖ u32be(id))`,
 * then `u = (⌊x / 2^11⌋ + 0.5) / 2^53` — 53 random bits, exactly representable, never 0 or 1.
 */
export function uniformNoise(key: Uint8Array, step: number, id: number): number {
  const msg = new Uint8Array(TAG.length + 8)
  msg.set(TAG)
  const view = new DataView(msg.buffer)
  view.setUint32(TAG.length, step)
  view.setUint32(TAG.length + 4, id)
  const mac = hmac(sha256, key, msg)
  const macView = new DataView(mac.buffer, mac.byteOffset, mac.byteLength)
  const hi = macView.getUint32(0)
  const lo = macView.getUint32(4)
  // top 53 bits of the u64: hi (32 bits) and the top 21 bits of lo
  const bits53 = hi * 2 ** 21 + (lo >>> 11)
  return (bits53 + 0.5) / TWO_POW_53
}
