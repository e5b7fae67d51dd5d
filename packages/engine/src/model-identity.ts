import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { InvalidModelFileError } from './errors.js'
import { type GgufSummary, inspectGgufFile } from './gguf-inspection.js'

/** The canonical identity of a model file: its SHA-256 and what its GGUF metadata says. */
export interface ModelIdentity extends GgufSummary {
  /** SHA-256 of the whole file, 32 bytes: the canonical model hash that requests and responses name. */
  hash: Uint8Array
  /** `hash` as 64 lowercase hex characters. */
  hashHex: string
  /** Size of the file in bytes. */
  fileSize: number
}

/** Streams a file through SHA-256 (constant memory, any size). */
export async function sha256File(path: string): Promise<Uint8Array> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  return new Uint8Array(hash.digest())
}

/**
 * Identifies a GGUF model: streaming SHA-256 of the whole file plus a summary of its metadata
 * (architecture, quantisation, parameter count, vocabulary size, context length, ...). Any changed byte
 * changes `hash`. Fails with `ModelNotFoundError` or `InvalidModelFileError` like `loadModel`.
 */
export async function modelIdentity(path: string): Promise<ModelIdentity> {
  const inspection = await inspectGgufFile(path)
  const hash = await sha256File(path).catch((cause: unknown) => {
    throw new InvalidModelFileError(path, 'cannot read the file', { cause })
  })
  return {
    ...inspection.summary,
    hash,
    hashHex: Buffer.from(hash).toString('hex'),
    fileSize: inspection.fileSize,
  }
}
