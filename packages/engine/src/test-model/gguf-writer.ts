import { open } from 'node:fs/promises'
import { Q8_0_BLOCK_BYTES, Q8_0_BLOCK_VALUES } from './q8-0.js'

/** GGUF magic, "GGUF" read as a little-endian u32. */
const GGUF_MAGIC = 0x46554747
const GGUF_VERSION = 3
/** Default `general.alignment` of GGUF: tensor data offsets are multiples of it. */
export const GGUF_ALIGNMENT = 32

/** A GGUF metadata value, tagged with its GGUF value type. */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'string'; values: readonly string[] }
  | { type: 'array'; itemType: 'f32' | 'i32'; values: ArrayLike<number> }

/** ggml tensor types the writer can lay out. */
export type GgmlTensorType = 'f32' | 'q8_0'

/** One tensor to write: its name, ggml dimensions (`ne0` first) and a producer of its data bytes. */
export interface GgufTensor {
  name: string
  /** ggml order: `dims[0]` is the contiguous (row) dimension. */
  dims: readonly number[]
  type: GgmlTensorType
  /** Produces exactly `ggufTensorByteLength(dims, type)` bytes; called once, in file order. */
  data: () => Uint8Array
}

const VALUE_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const
const GGML_TYPE = { f32: 0, q8_0: 8 } as const
const utf8 = new TextEncoder()

/** Bytes one tensor's data occupies in the file, before alignment padding. */
export function ggufTensorByteLength(dims: readonly number[], type: GgmlTensorType): number {
  const count = dims.reduce((a, b) => a * b, 1)
  if (type === 'f32') return count * 4
  if (dims[0]! % Q8_0_BLOCK_VALUES !== 0) {
    throw new RangeError(`Q8_0 tensor rows must be a multiple of ${Q8_0_BLOCK_VALUES}, got ${dims[0]}`)
  }
  return (count / Q8_0_BLOCK_VALUES) * Q8_0_BLOCK_BYTES
}

/** Growable little-endian byte buffer for the GGUF header. */
class HeaderBytes {
  #buffer = new Uint8Array(1 << 16)
  #view = new DataView(this.#buffer.buffer)
  length = 0

  #reserve(extra: number): void {
    if (this.length + extra <= this.#buffer.length) return
    let size = this.#buffer.length * 2
    while (size < this.length + extra) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buffer.subarray(0, this.length))
    this.#buffer = next
    this.#view = new DataView(next.buffer)
  }
  u32(v: number): void {
    this.#reserve(4)
    this.#view.setUint32(this.length, v, true)
    this.length += 4
  }
  i32(v: number): void {
    this.#reserve(4)
    this.#view.setInt32(this.length, v, true)
    this.length += 4
  }
  u64(v: number): void {
    this.#reserve(8)
    this.#view.setBigUint64(this.length, BigInt(v), true)
    this.length += 8
  }
  f32(v: number): void {
    this.#reserve(4)
    this.#view.setFloat32(this.length, v, true)
    this.length += 4
  }
  u8(v: number): void {
    this.#reserve(1)
    this.#view.setUint8(this.length, v)
    this.length += 1
  }
  string(s: string): void {
    const bytes = utf8.encode(s)
    this.u64(bytes.length)
    this.#reserve(bytes.length)
    this.#buffer.set(bytes, this.length)
    this.length += bytes.length
  }
  padTo(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0)
  }
  bytes(): Uint8Array {
    return this.#buffer.slice(0, this.length)
  }
}

function writeValue(out: HeaderBytes, value: GgufValue): void {
  out.u32(VALUE_TYPE[value.type])
  switch (value.type) {
    case 'u32':
      out.u32(value.value)
      break
    case 'i32':
      out.i32(value.value)
      break
    case 'f32':
      out.f32(value.value)
      break
    case 'bool':
      out.u8(value.value ? 1 : 0)
      break
    case 'string':
      out.string(value.value)
      break
    case 'array':
      out.u32(VALUE_TYPE[value.itemType])
      out.u64(value.values.length)
      if (value.itemType === 'string') for (const s of value.values) out.string(s)
      else if (value.itemType === 'f32')
        for (let i = 0; i < value.values.length; i++) out.f32(value.values[i]!)
      else for (let i = 0; i < value.values.length; i++) out.i32(value.values[i]!)
  }
}

/**
 * Lays out a GGUF v3 file: header, metadata (in the given order), tensor infos, padding to
 * {@link GGUF_ALIGNMENT}, then each tensor's data aligned. Returns the header bytes and the tensors with
 * their data offsets; {@link writeGguf} and {@link ggufBytes} stream or concatenate them.
 */
function layout(metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly GgufTensor[]) {
  const header = new HeaderBytes()
  header.u32(GGUF_MAGIC)
  header.u32(GGUF_VERSION)
  header.u64(tensors.length)
  header.u64(metadata.length)
  for (const [key, value] of metadata) {
    header.string(key)
    writeValue(header, value)
  }
  let offset = 0
  const sizes: number[] = []
  for (const tensor of tensors) {
    const size = ggufTensorByteLength(tensor.dims, tensor.type)
    header.string(tensor.name)
    header.u32(tensor.dims.length)
    for (const d of tensor.dims) header.u64(d)
    header.u32(GGML_TYPE[tensor.type])
    header.u64(offset)
    sizes.push(size)
    offset += Math.ceil(size / GGUF_ALIGNMENT) * GGUF_ALIGNMENT
  }
  header.padTo(GGUF_ALIGNMENT)
  return { header: header.bytes(), sizes, dataLength: offset }
}

function tensorBytes(tensor: GgufTensor, size: number): Uint8Array {
  const data = tensor.data()
  if (data.length !== size) {
    throw new RangeError(`tensor ${tensor.name} produced ${data.length} bytes, expected ${size}`)
  }
  return data
}

/** Assembles a whole GGUF file in memory. Deterministic: same inputs, same bytes. */
export function ggufBytes(
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: readonly GgufTensor[],
): Uint8Array {
  const { header, sizes, dataLength } = layout(metadata, tensors)
  const out = new Uint8Array(header.length + dataLength)
  out.set(header)
  let offset = header.length
  tensors.forEach((tensor, i) => {
    const size = sizes[i]!
    out.set(tensorBytes(tensor, size), offset)
    offset += Math.ceil(size / GGUF_ALIGNMENT) * GGUF_ALIGNMENT
  })
  return out
}

/**
 * Streams a GGUF file to `path`, producing one tensor's data at a time (so a model of hundreds of MB
 * never sits in memory at once). Returns the file size in bytes.
 */
export async function writeGguf(
  path: string,
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: readonly GgufTensor[],
): Promise<number> {
  const { header, sizes, dataLength } = layout(metadata, tensors)
  const file = await open(path, 'w')
  try {
    await file.write(header)
    for (let i = 0; i < tensors.length; i++) {
      const size = sizes[i]!
      await file.write(tensorBytes(tensors[i]!, size))
      const padding = Math.ceil(size / GGUF_ALIGNMENT) * GGUF_ALIGNMENT - size
      if (padding > 0) await file.write(new Uint8Array(padding))
    }
  } finally {
    await file.close()
  }
  return header.length + dataLength
}
