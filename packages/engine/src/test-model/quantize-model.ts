import { open, readFile } from 'node:fs/promises'
import { InvalidModelFileError } from '../errors.js'
import { ggmlTensorByteLength } from '../ggml-type-sizes.js'
import { GGUF_ALIGNMENT } from './gguf-writer.js'
import { quantizeQ4_0 } from './q4-0.js'
import { quantizeQ8_0 } from './q8-0.js'

const GGUF_MAGIC = 0x46554747
const GGML_F32 = 0
/** Per target: the ggml tensor type, llama.cpp's `general.file_type` (LLAMA_FTYPE_MOSTLY_…), the quantiser. */
const TARGETS = {
  q8_0: { ggmlType: 8, fileType: 7, quantize: quantizeQ8_0 },
  q4_0: { ggmlType: 2, fileType: 2, quantize: quantizeQ4_0 },
} as const
/** Values per block of both targets. */
const BLOCK_VALUES = 32
/** Byte sizes of GGUF scalar value types (uint8 … float64, bool); 8 = string, 9 = array. */
const SCALAR_BYTES: Record<number, number> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
}

interface TensorInfo {
  name: string
  dims: bigint[]
  type: number
  offset: bigint
}

/** A little-endian reader over the header of a GGUF file. */
class Reader {
  offset = 0
  readonly #view: DataView
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  u32(): number {
    const v = this.#view.getUint32(this.offset, true)
    this.offset += 4
    return v
  }
  u64(): bigint {
    const v = this.#view.getBigUint64(this.offset, true)
    this.offset += 8
    return v
  }
  string(): string {
    const length = Number(this.u64())
    const s = new TextDecoder().decode(this.bytes.subarray(this.offset, this.offset + length))
    this.offset += length
    return s
  }
  skipValue(type: number): void {
    if (type === 8) {
      const length = Number(this.u64())
      this.offset += length
    } else if (type === 9) {
      const itemType = this.u32()
      const count = Number(this.u64())
      if (itemType in SCALAR_BYTES) this.offset += count * SCALAR_BYTES[itemType]!
      else for (let i = 0; i < count; i++) this.skipValue(itemType)
    } else if (type in SCALAR_BYTES) {
      this.offset += SCALAR_BYTES[type]!
    } else {
      throw new RangeError(`unknown GGUF value type ${type}`)
    }
  }
}

/**
 * Writes the Q8_0 or Q4_0 quantisation of an F32 GGUF model, as `llama-quantize … Q8_0` does for the
 * weight matrices: every F32 tensor of 2+ dimensions whose rows are a multiple of 32 is quantised
 * (ggml's reference quantiser); norms and other vectors stay F32. Metadata (architecture, tokenizer,
 * chat template) is copied byte for byte, `general.file_type` set to MOSTLY_Q8_0 / MOSTLY_Q4_0. Real
 * weights, a real model of its own hash: e.g. a second model from stories260K that answers in English,
 * or the cheaper file a cheater would serve in place of the Q8_0 one.
 *
 * @example
 * await quantizeModel({ from: 'stories260K.gguf', to: 'stories260K-q8_0.gguf', type: 'q8_0' })
 */
export async function quantizeModel(options: {
  from: string
  to: string
  type: keyof typeof TARGETS
}): Promise<{ tensorsQuantized: number; fileSize: number }> {
  const target = TARGETS[options.type]
  if (!target) throw new RangeError(`cannot quantise to ${String(options.type)}: q8_0 or q4_0`)
  const source = new Uint8Array(await readFile(options.from))
  const r = new Reader(source)
  if (source.length < 24 || r.u32() !== GGUF_MAGIC)
    throw new InvalidModelFileError(options.from, 'not a GGUF file (bad magic)')
  const version = r.u32()
  if (version < 2) throw new InvalidModelFileError(options.from, `GGUF version ${version} is not supported`)
  const tensorCount = Number(r.u64())
  const kvCount = Number(r.u64())
  const kvStart = r.offset
  let alignment = GGUF_ALIGNMENT
  let fileTypeValueAt = -1
  for (let i = 0; i < kvCount; i++) {
    const key = r.string()
    const type = r.u32()
    if (key === 'general.alignment' && type === 4)
      alignment = new DataView(source.buffer).getUint32(r.offset, true)
    if (key === 'general.file_type' && type === 4) fileTypeValueAt = r.offset
    r.skipValue(type)
  }
  const metadata = source.slice(kvStart, r.offset)
  if (fileTypeValueAt >= 0)
    new DataView(metadata.buffer).setUint32(fileTypeValueAt - kvStart, target.fileType, true)
  const tensors: TensorInfo[] = []
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string()
    const nDims = r.u32()
    const dims = Array.from({ length: nDims }, () => r.u64())
    tensors.push({ name, dims, type: r.u32(), offset: r.u64() })
  }
  const dataStart = Math.ceil(r.offset / alignment) * alignment
  const align = (n: number) => Math.ceil(n / alignment) * alignment

  // New tensor data, in the source's order.
  let tensorsQuantized = 0
  const data = tensors.map((t) => {
    const count = t.dims.reduce((a, b) => a * Number(b), 1)
    const start = dataStart + Number(t.offset)
    if (t.type === GGML_F32 && t.dims.length >= 2 && Number(t.dims[0]) % BLOCK_VALUES === 0) {
      const values = new Float32Array(source.buffer.slice(start, start + count * 4))
      tensorsQuantized++
      return { type: target.ggmlType, bytes: target.quantize(values) }
    }
    const size = ggmlTensorByteLength(t.type, t.dims)
    if (size === undefined)
      throw new InvalidModelFileError(options.from, `tensor ${t.name}: unknown ggml type ${t.type}`)
    return { type: t.type, bytes: source.subarray(start, start + size) }
  })

  // Header: magic, version, counts, metadata as it was, tensor infos with new types and offsets.
  const utf8 = new TextEncoder()
  const infoParts: Uint8Array[] = []
  let offset = 0
  tensors.forEach((t, i) => {
    const name = utf8.encode(t.name)
    const info = new Uint8Array(8 + name.length + 4 + 8 * t.dims.length + 4 + 8)
    const v = new DataView(info.buffer)
    v.setBigUint64(0, BigInt(name.length), true)
    info.set(name, 8)
    let o = 8 + name.length
    v.setUint32(o, t.dims.length, true)
    o += 4
    for (const d of t.dims) {
      v.setBigUint64(o, d, true)
      o += 8
    }
    v.setUint32(o, data[i]!.type, true)
    v.setBigUint64(o + 4, BigInt(offset), true)
    offset += align(data[i]!.bytes.length)
    infoParts.push(info)
  })
  const head = new Uint8Array(24)
  const hv = new DataView(head.buffer)
  hv.setUint32(0, GGUF_MAGIC, true)
  hv.setUint32(4, 3, true)
  hv.setBigUint64(8, BigInt(tensorCount), true)
  hv.setBigUint64(16, BigInt(kvCount), true)
  const headerLength = head.length + metadata.length + infoParts.reduce((n, p) => n + p.length, 0)
  const file = await open(options.to, 'w')
  try {
    await file.write(head)
    await file.write(metadata)
    for (const p of infoParts) await file.write(p)
    await file.write(new Uint8Array(align(headerLength) - headerLength))
    for (const { bytes } of data) {
      await file.write(bytes)
      await file.write(new Uint8Array(align(bytes.length) - bytes.length))
    }
  } finally {
    await file.close()
  }
  return { tensorsQuantized, fileSize: align(headerLength) + offset }
}
