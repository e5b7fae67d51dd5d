import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from '@infraxa/protocol'
import { readGgufFileInfo } from 'node-llama-cpp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { float16Bits, float16Value } from '../src/test-model/float16.js'
import { dequantizeQ4_0, quantizeQ4_0 } from '../src/test-model/q4-0.js'
import { dequantizeQ8_0, quantizeQ8_0 } from '../src/test-model/q8-0.js'
import { SeededRandom } from '../src/test-model/seeded-random.js'
import { buildTestVocabulary } from '../src/test-model/test-vocabulary.js'
import { TINY_TEST_MODEL_CONFIG, testModelBytes, writeTestModel } from '../src/test-model/write-test-model.js'

const tiny = { seed: 1, vocab: 300, dim: 32, layers: 1, ff: 64, type: 'q8_0' } as const
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'infraxa-test-model-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('writeTestModel', () => {
  it('is byte-identical for the same arguments, in memory and on disk', async () => {
    const a = testModelBytes(tiny)
    const b = testModelBytes({ ...tiny })
    expect(Buffer.compare(a, b)).toBe(0)
    const written = await writeTestModel({ ...tiny, path: join(dir, 'tiny.gguf') })
    const onDisk = await readFile(written.path)
    expect(Buffer.compare(onDisk, a)).toBe(0)
    expect(written.fileSize).toBe(a.length)
  })

  it('changes with the seed and the weight type', () => {
    const a = testModelBytes(tiny)
    expect(Buffer.compare(a, testModelBytes({ ...tiny, seed: 2 }))).not.toBe(0)
    expect(testModelBytes({ ...tiny, type: 'f32' }).length).toBeGreaterThan(a.length)
  })

  it('writes a llama GGUF that node-llama-cpp parses, with a byte-fallback tokenizer', async () => {
    const { path, parameterCount } = await writeTestModel({
      ...TINY_TEST_MODEL_CONFIG,
      path: join(dir, 'm.gguf'),
    })
    const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false })
    expect(info.version).toBe(3)
    expect(info.metadata.general.architecture).toBe('llama')
    expect(info.metadata.general.file_type).toBe(7)
    const tokenizer = info.metadata.tokenizer.ggml
    expect(tokenizer.model).toBe('llama')
    expect(tokenizer.tokens).toHaveLength(TINY_TEST_MODEL_CONFIG.vocab)
    expect(tokenizer.tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>'])
    expect(tokenizer.tokens[258]).toBe('<0xFF>')
    expect(tokenizer.token_type?.[3]).toBe(6)
    expect(info.tensorInfo?.map((t) => t.name)).toContain('blk.1.ffn_down.weight')
    const counted = (info.tensorInfo ?? []).reduce(
      (sum, t) => sum + t.dimensions.reduce<number>((p, d) => p * Number(d), 1),
      0,
    )
    expect(counted).toBe(parameterCount)
  })

  it('rejects shapes it cannot write', () => {
    expect(() => testModelBytes({ ...tiny, vocab: 100 })).toThrow(InvalidArgumentError)
    expect(() => testModelBytes({ ...tiny, dim: 48 })).toThrow(InvalidArgumentError)
    expect(() => testModelBytes({ ...tiny, layers: 0 })).toThrow(InvalidArgumentError)
  })
})

describe('test model building blocks', () => {
  it('SeededRandom is deterministic per (seed, label) and uniform in [-1, 1)', () => {
    const a = new SeededRandom(7, 'x').fillSymmetric(new Float32Array(1000), 1)
    const b = new SeededRandom(7, 'x').fillSymmetric(new Float32Array(1000), 1)
    const c = new SeededRandom(7, 'y').fillSymmetric(new Float32Array(1000), 1)
    expect(a).toEqual(b)
    expect(a).not.toEqual(c)
    expect(Math.min(...a)).toBeGreaterThanOrEqual(-1)
    expect(Math.max(...a)).toBeLessThan(1)
    const mean = a.reduce((s, x) => s + x, 0) / a.length
    expect(Math.abs(mean)).toBeLessThan(0.1)
  })

  it('float16 conversion rounds to nearest even and round-trips', () => {
    expect(float16Bits(1)).toBe(0x3c00)
    expect(float16Bits(-2)).toBe(0xc000)
    expect(float16Bits(65504)).toBe(0x7bff)
    expect(float16Bits(1e6)).toBe(0x7c00)
    expect(float16Bits(2 ** -24)).toBe(0x0001)
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00) // halfway, ties to even
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02)
    for (const x of [0.5, 0.1, 2.71, -7.25e-3, 6.1e-5]) {
      expect(Math.abs(float16Value(float16Bits(x)) - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11)
    }
  })

  it('Q8_0 quantises within half a step (plus the f16 rounding of the scale) per block', () => {
    const values = new SeededRandom(3, 'q').fillSymmetric(new Float32Array(256), 0.5)
    const bytes = quantizeQ8_0(values)
    expect(bytes.length).toBe((256 / 32) * 34)
    const back = dequantizeQ8_0(bytes)
    for (let b = 0; b < 8; b++) {
      const block = values.subarray(b * 32, b * 32 + 32)
      const step = Math.max(...block.map(Math.abs)) / 127
      for (let j = 0; j < 32; j++)
        expect(Math.abs(back[b * 32 + j]! - block[j]!)).toBeLessThanOrEqual(step * 0.6)
    }
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(RangeError)
  })

  it('Q4_0 quantises within a step per block (half, but at the clamped end), nibbles packed as ggml does', () => {
    const values = new SeededRandom(4, 'q').fillSymmetric(new Float32Array(256), 0.5)
    const bytes = quantizeQ4_0(values)
    expect(bytes.length).toBe((256 / 32) * 18)
    const back = dequantizeQ4_0(bytes)
    for (let b = 0; b < 8; b++) {
      const block = values.subarray(b * 32, b * 32 + 32)
      const max = block.reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m), 0)
      const d = max / -8
      // Levels run −8d … 7d: a value past 7d (opposite sign to the max) clamps to 7d.
      for (let j = 0; j < 32; j++) {
        const error = Math.abs(back[b * 32 + j]! - block[j]!)
        expect(error).toBeLessThanOrEqual(Math.abs(d) * (block[j]! / d > 7 ? 1.01 : 0.51))
      }
    }
    // One block by hand: max = −1 (at j = 20), d = max / −8 = 0.125; q = trunc(x / d + 8.5).
    const one = new Float32Array(32)
    one[20] = -1
    one[3] = 0.5
    const packed = quantizeQ4_0(one)
    expect(packed[2 + 3]).toBe(12 | (8 << 4)) // 0.5 → 12 (low), value 19 = 0 → 8 (high)
    expect(packed[2 + 4]).toBe(8 | (0 << 4)) // value 4 = 0 → 8, value 20 = −1 → 0
    expect(Array.from(dequantizeQ4_0(packed).subarray(19, 21))).toEqual([0, -1])
    expect(() => quantizeQ4_0(new Float32Array(33))).toThrow(RangeError)
  })

  it('builds distinct vocabulary pieces of any size', () => {
    const v = buildTestVocabulary(5000)
    expect(new Set(v.tokens).size).toBe(5000)
    expect(v.tokens[259]).toBe('\u2581')
    expect(v.scores[260]).toBeLessThan(v.scores[259]!)
  })
})

describe('perturbModelWeights', () => {
  it('changes only F32 weight matrices, deterministically, and rounds to cheaper types idempotently', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { perturbModelWeights, writeTestModel } = await import('../src/index.js')
    const dir = await mkdtemp(join(tmpdir(), 'infraxa-perturb-'))
    try {
      const shape = { seed: 3, vocab: 288, dim: 32, layers: 1, ff: 64 } as const
      const f32 = await writeTestModel({ path: join(dir, 'f32.gguf'), ...shape, type: 'f32' })
      const q8 = await writeTestModel({ path: join(dir, 'q8.gguf'), ...shape, type: 'q8_0' })
      const at = (name: string) => join(dir, name)
      const a = await perturbModelWeights({ from: f32.path, to: at('a.gguf'), noise: 0.01, seed: 1 })
      await perturbModelWeights({ from: f32.path, to: at('b.gguf'), noise: 0.01, seed: 1 })
      await perturbModelWeights({ from: f32.path, to: at('c.gguf'), noise: 0.01, seed: 2 })
      await perturbModelWeights({ from: f32.path, to: at('zero.gguf'), noise: 0, seed: 1 })
      expect(a.tensorsChanged).toBeGreaterThan(3)
      const original = await readFile(f32.path)
      const bytes = await readFile(at('a.gguf'))
      expect(bytes.length).toBe(original.length)
      expect(bytes.equals(original)).toBe(false)
      expect(bytes.equals(await readFile(at('b.gguf')))).toBe(true)
      expect(bytes.equals(await readFile(at('c.gguf')))).toBe(false)
      expect((await readFile(at('zero.gguf'))).equals(original)).toBe(true)
      for (const roundTo of ['f16', 'q8_0', 'q4_0'] as const) {
        await perturbModelWeights({ from: f32.path, to: at(`${roundTo}.gguf`), roundTo })
        await perturbModelWeights({ from: at(`${roundTo}.gguf`), to: at(`${roundTo}-again.gguf`), roundTo })
        const once = await readFile(at(`${roundTo}.gguf`))
        expect(once.equals(original)).toBe(false)
        expect(once.equals(await readFile(at(`${roundTo}-again.gguf`)))).toBe(true)
      }
      expect(
        (await perturbModelWeights({ from: q8.path, to: at('q8-noise.gguf'), noise: 1, seed: 1 }))
          .tensorsChanged,
      ).toBe(0)
      await expect(
        perturbModelWeights({ from: f32.path, to: at('bad.gguf'), noise: -1, seed: 1 }),
      ).rejects.toThrow(/noise must be/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
