import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidModelFileError, ModelNotFoundError } from '../src/errors.js'
import { modelIdentity } from '../src/model-identity.js'
import { TINY_TEST_MODEL_CONFIG, testModelBytes } from '../src/test-model/write-test-model.js'
import { testModelPath } from './support/test-model-path.js'

let dir: string
let bytes: Uint8Array
let path: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infraxa-identity-'))
  bytes = testModelBytes(TINY_TEST_MODEL_CONFIG)
  path = join(dir, 'tiny.gguf')
  await writeFile(path, bytes)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('modelIdentity', () => {
  it('hashes the whole file with SHA-256 and summarises the GGUF metadata', async () => {
    const identity = await modelIdentity(path)
    expect(identity.hash).toBeInstanceOf(Uint8Array)
    expect(identity.hash).toHaveLength(32)
    expect(identity.hashHex).toBe(createHash('sha256').update(bytes).digest('hex'))
    expect(identity).toMatchObject({
      architecture: 'llama',
      quantization: 'Q8_0',
      vocabSize: TINY_TEST_MODEL_CONFIG.vocab,
      contextLength: 2048,
      embeddingLength: TINY_TEST_MODEL_CONFIG.dim,
      layerCount: TINY_TEST_MODEL_CONFIG.layers,
      fileSize: bytes.length,
      hasChatTemplate: false,
    })
    expect(identity.parameterCount).toBeGreaterThan(100_000)
  })

  it('is stable across calls', async () => {
    const [a, b] = await Promise.all([modelIdentity(path), modelIdentity(path)])
    expect(a).toEqual(b)
  })

  it('changes when one byte of the weights flips', async () => {
    const flipped = new Uint8Array(bytes)
    const at = bytes.length - 100
    flipped[at] = flipped[at]! ^ 0x01
    const flippedPath = join(dir, 'flipped.gguf')
    await writeFile(flippedPath, flipped)
    const [a, b] = await Promise.all([modelIdentity(path), modelIdentity(flippedPath)])
    expect(b.hashHex).not.toBe(a.hashHex)
    expect({ ...b, hash: undefined, hashHex: undefined }).toEqual({
      ...a,
      hash: undefined,
      hashHex: undefined,
    })
  })

  it('identifies stories260K (F32, no file_type key)', async () => {
    const real = testModelPath()
    const identity = await modelIdentity(real)
    expect(identity.hashHex).toBe(
      createHash('sha256')
        .update(await readFile(real))
        .digest('hex'),
    )
    expect(identity).toMatchObject({
      architecture: 'llama',
      quantization: 'F32',
      vocabSize: 512,
      contextLength: 2048,
      layerCount: 5,
      parameterCount: 292_800,
    })
  })

  it('fails with typed errors for missing, corrupt and truncated files', async () => {
    await expect(modelIdentity(join(dir, 'nope.gguf'))).rejects.toBeInstanceOf(ModelNotFoundError)
    await expect(modelIdentity(dir)).rejects.toBeInstanceOf(ModelNotFoundError)

    const garbage = join(dir, 'garbage.gguf')
    await writeFile(garbage, Buffer.from('this is not a gguf file at all, just text'))
    await expect(modelIdentity(garbage)).rejects.toBeInstanceOf(InvalidModelFileError)

    const badMagic = join(dir, 'bad-magic.gguf')
    const copy = new Uint8Array(bytes)
    copy[0] = 0x58
    await writeFile(badMagic, copy)
    await expect(modelIdentity(badMagic)).rejects.toBeInstanceOf(InvalidModelFileError)

    const truncated = join(dir, 'truncated.gguf')
    await writeFile(truncated, bytes.subarray(0, bytes.length - 1000))
    await expect(modelIdentity(truncated)).rejects.toThrow(/truncated/)

    const headerOnly = join(dir, 'header-only.gguf')
    await writeFile(headerOnly, bytes.subarray(0, 200))
    await expect(modelIdentity(headerOnly)).rejects.toBeInstanceOf(InvalidModelFileError)
  })
})
