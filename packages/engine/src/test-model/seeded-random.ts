import { createHash } from 'node:crypto'

/**
 * A deterministic pseudo-random stream (xoshiro128**), seeded from SHA-256 of a seed and a label, so every
 * tensor of a generated model draws from its own reproducible stream: the same `(seed, label)` always
 * yields the same numbers on every platform, and changing one tensor's shape never shifts another's values.
 */
export class SeededRandom {
  #s0: number
  #s1: number
  #s2: number
  #s3: number

  /**
   * @param seed - any integer; together with `label` it fixes the stream.
   * @param label - names the stream, e.g. a tensor name.
   */
  constructor(seed: number, label: string) {
    const digest = createHash('sha256').update(`infraxa/test-model/${seed}/${label}`).digest()
    this.#s0 = digest.readUInt32LE(0)
    this.#s1 = digest.readUInt32LE(4)
    this.#s2 = digest.readUInt32LE(8)
    this.#s3 = digest.readUInt32LE(12)
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1
  }

  /** Next 32-bit unsigned integer of the stream. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0
    const t = this.#s1 << 9
    this.#s2 ^= this.#s0
    this.#s3 ^= this.#s1
    this.#s1 ^= this.#s2
    this.#s0 ^= this.#s3
    this.#s2 ^= t
    this.#s3 = rotl(this.#s3, 11)
    return result
  }

  /** Uniform float in [-1, 1), with 24 bits of resolution (exactly representable in float32). */
  nextSymmetric(): number {
    return ((this.nextUint32() >>> 8) - 0x800000) / 0x800000
  }

  /** Fills `out` with uniform values in [-scale, scale), each rounded to float32 by the array itself. */
  fillSymmetric(out: Float32Array, scale: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.nextSymmetric() * scale
    return out
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}
