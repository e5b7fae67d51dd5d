import { float16Bits, float16Value } from './float16.js'

/** Values per Q4_0 block. */
export const Q4_0_BLOCK_VALUES = 32
/** Bytes per Q4_0 block: an f16 scale and 32 four-bit values, two per byte. */
export const Q4_0_BLOCK_BYTES = 18

/**
 * Quantises float32 values to ggml's Q4_0 layout, exactly as `quantize_row_q4_0_ref` does: per block of
 * 32 values, `d = max / −8` (max: the value of largest magnitude, with its sign) stored as f16, then
 * `q = trunc(x / d + 8.5)` clamped to 15; byte j holds value j in its low nibble and value j + 16 in its high one.
 *
 * @param values - length must be a multiple of 32.
 */
export function quantizeQ4_0(values: Float32Array): Uint8Array {
  if (values.length % Q4_0_BLOCK_VALUES !== 0) {
    throw new RangeError(`Q4_0 needs a multiple of ${Q4_0_BLOCK_VALUES} values, got ${values.length}`)
  }
  const blocks = values.length / Q4_0_BLOCK_VALUES
  const out = new Uint8Array(blocks * Q4_0_BLOCK_BYTES)
  const view = new DataView(out.buffer)
  const nibble = (x: number, inverse: number) =>
    Math.min(15, Math.trunc(Math.fround(Math.fround(x * inverse) + 8.5)))
  for (let b = 0; b < blocks; b++) {
    const start = b * Q4_0_BLOCK_VALUES
    let amax = 0
    let max = 0
    for (let j = 0; j < Q4_0_BLOCK_VALUES; j++) {
      const v = values[start + j]!
      if (Math.abs(v) > amax) {
        amax = Math.abs(v)
        max = v
      }
    }
    const d = Math.fround(max / -8)
    const inverse = d ? Math.fround(1 / d) : 0
    const offset = b * Q4_0_BLOCK_BYTES
    view.setUint16(offset, float16Bits(d), true)
    for (let j = 0; j < Q4_0_BLOCK_VALUES / 2; j++) {
      const low = nibble(values[start + j]!, inverse)
      const high = nibble(values[start + j + Q4_0_BLOCK_VALUES / 2]!, inverse)
      out[offset + 2 + j] = low | (high << 4)
    }
  }
  return out
}

/** Expands Q4_0 blocks back to float32 values (`(q − 8) · d`), as ggml's `dequantize_row_q4_0` does. */
export function dequantizeQ4_0(bytes: Uint8Array): Float32Array {
  const blocks = Math.floor(bytes.length / Q4_0_BLOCK_BYTES)
  const out = new Float32Array(blocks * Q4_0_BLOCK_VALUES)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let b = 0; b < blocks; b++) {
    const offset = b * Q4_0_BLOCK_BYTES
    const d = float16Value(view.getUint16(offset, true))
    for (let j = 0; j < Q4_0_BLOCK_VALUES / 2; j++) {
      const byte = bytes[offset + 2 + j]!
      out[b * Q4_0_BLOCK_VALUES + j] = ((byte & 0x0f) - 8) * d
      out[b * Q4_0_BLOCK_VALUES + j + Q4_0_BLOCK_VALUES / 2] = ((byte >> 4) - 8) * d
    }
  }
  return out
}
