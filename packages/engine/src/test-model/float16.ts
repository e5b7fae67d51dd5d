/**
 * Converts a number to IEEE 754 half-precision bits, rounding to nearest even (what ggml's
 * `GGML_FP32_TO_FP16` does on CPUs with F16C). The number is first rounded to float32.
 */
export function float16Bits(value: number): number {
  const f32 = new Float32Array([value])
  const bits = new Uint32Array(f32.buffer)[0]!
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  let mantissa = bits & 0x7fffff

  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0)
  const unbiased = exponent - 127
  if (unbiased > 15) return sign | 0x7c00
  if (unbiased >= -14) {
    // Normal half: 10 mantissa bits, round the 13 dropped bits to nearest even.
    let half = ((unbiased + 15) << 10) | (mantissa >>> 13)
    const rest = mantissa & 0x1fff
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1
    return sign | half
  }
  if (unbiased < -25) return sign
  // Subnormal half: shift in the implicit bit and round to nearest even.
  mantissa |= 0x800000
  const shift = -unbiased - 14 + 13
  let half = mantissa >>> shift
  const rest = mantissa & ((1 << shift) - 1)
  const halfway = 1 << (shift - 1)
  if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1
  return sign | half
}

/** Converts IEEE 754 half-precision bits to a number. */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >>> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}
