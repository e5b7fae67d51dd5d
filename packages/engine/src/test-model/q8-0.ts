import { float16Bits, float16Value } from './float16.js'

/** Values per Q8_0 block. */
export const Q8_0_BLOCK_VALUES = 32
/** Bytes per Q8_0 block: an f16 scale and 32 signed bytes. */
export const Q8_0_BLOCK_BYTES = 34

/**
 * Quantises float32 values to ggml's Q8_0 layout, exactly as `quantize_row_q8_0_ref` does: per block of
 * 32 values, scale `d = max|x| / 127` stored as f16, then `round(x / d)` (half away from zero) as int8.
 *
 * @param values - length must be a multiple of 32 (a row of a tensor whose first dimension is a multiple of 32).
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % Q8_0_BLOCK_VALUES !== 0) {
    throw new RangeError(`Q8_0 needs a multiple of ${Q8_0_BLOCK_VALUES} values, got ${values.length}`)
  }
  const blocks = values.length / Q8_0_BLOCK_VALUES
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES)
  const view = new DataView(out.buffer)
  for (let b = 0; b < blocks; b++) {
    const start = b * Q8_0_BLOCK_VALUES
    let amax = 0
    for (let j = 0; j < Q8_0_BLOCK_VALUES; j++) amax = Math.max(amax, Math.abs(values[start + j]!))
    const d = Math.fround(amax / 127)
    const inverse = d ? Math.fround(1 / d) : 0
    const offset = b * Q8_0_BLOCK_BYTES
    view.setUint16(offset, float16Bits(d), true)
    for (let j = 0; j < Q8_0_BLOCK_VALUES; j++) {
      const scaled = Math.fround(values[start + j]! * inverse)
      view.setInt8(offset + 2 + j, Math.sign(scaled) * Math.floor(Math.abs(scaled) + 0.5))
    }
  }
  return out
}

/** Expands Q8_0 blocks back to float32 values (`d * q`), as ggml's `dequantize_row_q8_0` does. */
export function dequantizeQ8_0(bytes: Uint8Array): Float32Array {
  const blocks = Math.floor(bytes.length / Q8_0_BLOCK_BYTES)
  const out = new Float32Array(blocks * Q8_0_BLOCK_VALUES)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let b = 0; b < blocks; b++) {
    const d = float16Value(view.getUint16(b * Q8_0_BLOCK_BYTES, true))
    for (let j = 0; j < Q8_0_BLOCK_VALUES; j++) {
      out[b * Q8_0_BLOCK_VALUES + j] = d * view.getInt8(b * Q8_0_BLOCK_BYTES + 2 + j)
    }
  }
  return out
}
