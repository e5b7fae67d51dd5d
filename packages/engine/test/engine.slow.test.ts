import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from '@infraxa/protocol'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  CALIBRATED_TOLERANCE,
  ContextOverflowError,
  distributionDistance,
  EmptyPromptError,
  type EngineModel,
  type GenerationResult,
  InvalidChoiceError,
  InvalidModelFileError,
  InvalidTokenError,
  type LoadProgress,
  loadModel,
  ModelDisposedError,
  ModelNotFoundError,
  PINNED_NUMERIC_SETTINGS,
  quantizeModel,
  testModelBytes,
  writeTestModel,
} from '../src/index.js'
import { checkStreamInChunks } from './support/stream-check.js'
import { testModelPath } from './support/test-model-path.js'

const THREADS = 1
const shape = { vocab: 512, dim: 64, layers: 2, ff: 128 } as const
let dir: string
let stories: EngineModel
let generatedQ8: EngineModel
let otherSeedQ8: EngineModel
const progress: LoadProgress[] = []
let setupError: unknown

beforeAll(async () => {
  try {
    dir = await mkdtemp(join(tmpdir(), 'infraxa-engine-'))
    const q8 = await writeTestModel({ path: join(dir, 'seed1-q8.gguf'), seed: 1, ...shape, type: 'q8_0' })
    const other = await writeTestModel({ path: join(dir, 'seed2-q8.gguf'), seed: 2, ...shape, type: 'q8_0' })
    stories = await loadModel({
      path: testModelPath(),
      threads: THREADS,
      contextSize: 512,
      onProgress: (p) => progress.push(p),
    })
    generatedQ8 = await loadModel({ path: q8.path, threads: THREADS, contextSize: 512 })
    otherSeedQ8 = await loadModel({ path: other.path, threads: THREADS, contextSize: 512 })
  } catch (error) {
    setupError = error
  }
})

// A missing model (or any setup failure) fails every test with its message instead of skipping them.
beforeEach(() => {
  if (setupError) throw setupError
})

afterAll(async () => {
  await Promise.all([stories?.dispose(), generatedQ8?.dispose(), otherSeedQ8?.dispose()])
  await rm(dir, { recursive: true, force: true })
})

/** Asserts that every step's committed top-k matches the replay within the calibrated tolerance. */
function expectWithinTolerance(
  result: GenerationResult,
  replayed: ReadonlyArray<Array<{ id: number; logprob: number }>>,
) {
  result.steps.forEach((step, i) => {
    const d = distributionDistance(step.topK, replayed[i]!)
    expect(d.topKOverlap, `overlap at step ${step.t}`).toBeGreaterThanOrEqual(
      CALIBRATED_TOLERANCE.minTopKOverlap,
    )
    expect(d.maxLogprobDelta, `|Δ log-prob| at step ${step.t}`).toBeLessThanOrEqual(
      CALIBRATED_TOLERANCE.maxLogprobDelta,
    )
  })
}

describe('loading', () => {
  it('records the numerics-relevant settings in engineInfo', () => {
    expect(stories.engineInfo).toMatchObject({
      engine: 'node-llama-cpp',
      backend: 'cpu',
      batchSize: PINNED_NUMERIC_SETTINGS.batchSize,
      flashAttention: true,
      kvCacheType: 'f16',
      contextSize: 512,
      threads: THREADS,
      parallel: 1,
    })
    expect(stories.engineInfo.engineVersion).toMatch(/^3\.21\.1\+llama\.cpp\./)
    expect(stories.engineInfo.build).toMatch(/^cpu/)
    expect(stories.summary).toMatchObject({ architecture: 'llama', quantization: 'F32', vocabSize: 512 })
    expect(stories.vocabSize).toBe(512)
  })

  it('reports load progress up to 1', () => {
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.every((p) => p.phase === 'load')).toBe(true)
    expect(progress.at(-1)).toEqual({ phase: 'load', fraction: 1 })
  })

  it('rejects missing, corrupt and truncated files with typed errors', async () => {
    await expect(loadModel({ path: join(dir, 'missing.gguf'), threads: 1 })).rejects.toBeInstanceOf(
      ModelNotFoundError,
    )
    const corrupt = join(dir, 'corrupt.gguf')
    await writeFile(corrupt, Buffer.from('GGUF\x03\x00\x00\x00 definitely not a model'))
    await expect(loadModel({ path: corrupt, threads: 1 })).rejects.toBeInstanceOf(InvalidModelFileError)
    const bytes = testModelBytes({ seed: 3, ...shape, type: 'q8_0' })
    const truncated = join(dir, 'truncated.gguf')
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)))
    await expect(loadModel({ path: truncated, threads: 1 })).rejects.toBeInstanceOf(InvalidModelFileError)
  })

  it('requires an explicit thread count and exactly one model location', async () => {
    await expect(loadModel({ path: testModelPath(), threads: 0 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    await expect(loadModel({ threads: 1 } as never)).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})

describe('generation', () => {
  it('applies the plain template and returns the exact prompt tokens', () => {
    const generation = stories.generate({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 1 })
    expect(generation.promptTokens[0]).toBe(1)
    expect(stories.detokenize(generation.promptTokens)).toBe(' User: Hi\nAssistant:')
    return generation.result
  })

  it('is reproducible run to run with greedy sampling, bit for bit', async () => {
    for (const model of [stories, generatedQ8]) {
      const run = () =>
        model.generate({ messages: [{ role: 'user', content: 'Once upon a time' }], maxTokens: 40 }).result
      const a = await run()
      const b = await run()
      expect(a.outputTokens).toHaveLength(40)
      expect(b.outputTokens).toEqual(a.outputTokens)
      expect(b.steps).toEqual(a.steps)
      expect(a.steps[0]!.topK).toHaveLength(8)
    }
  })

  it('streams steps whose text adds up to the output text, with top-k sorted by log-prob', async () => {
    const generation = stories.generate({
      promptTokens: [1, ...stories.tokenize('Once upon a time')],
      maxTokens: 30,
    })
    let text = ''
    let t = 0
    for await (const step of generation) {
      expect(step.t).toBe(t++)
      expect(step.topK.map((e) => e.id)).toContain(step.token)
      const logprobs = step.topK.map((e) => e.logprob)
      expect(logprobs).toEqual([...logprobs].sort((a, b) => b - a))
      expect(Math.max(...logprobs)).toBeLessThanOrEqual(0)
      text += step.text
    }
    const result = await generation.result
    expect(text).toBe(result.text)
    expect(result.finishReason).toBe('length')
  })

  it('stops on a stop string, cutting the text before it', async () => {
    const probe = await stories.generate({
      promptTokens: [1, ...stories.tokenize('Once upon a time')],
      maxTokens: 40,
    }).result
    const word = probe.text.trim().split(/\s+/)[3]!
    const result = await stories.generate({
      promptTokens: [1, ...stories.tokenize('Once upon a time')],
      maxTokens: 40,
      stop: [word],
    }).result
    expect(result.finishReason).toBe('stop')
    expect(result.text).toBe(probe.text.slice(0, probe.text.indexOf(word)))
    expect(result.outputTokens.length).toBeLessThan(40)
  })

  it('stops on an end-of-generation token and includes its step', async () => {
    const eos = 2
    const result = await stories.generate({
      promptTokens: [1, ...stories.tokenize('Once upon a time')],
      maxTokens: 20,
      topK: 512,
      choose: (topK, t) => (t === 3 ? eos : topK[0]!.id),
    }).result
    expect(result.finishReason).toBe('eog')
    expect(result.outputTokens).toHaveLength(4)
    expect(result.outputTokens.at(-1)).toBe(eos)
    expect(result.steps.at(-1)!.text).toBe('')
  })

  it('passes the distribution and step to choose, and rejects a choice outside the top-k', async () => {
    const seen: number[] = []
    await stories.generate({
      promptTokens: [1],
      maxTokens: 3,
      choose: (topK, t) => {
        seen.push(t)
        expect(topK).toHaveLength(8)
        return topK[topK.length - 1]!.id
      },
    }).result
    expect(seen).toEqual([0, 1, 2])
    const bad = stories.generate({
      promptTokens: [1],
      maxTokens: 3,
      topK: 4,
      choose: (topK) => topK[0]!.id + 1000,
    })
    await expect(bad.result).rejects.toBeInstanceOf(InvalidChoiceError)
  })

  it('gives typed errors for an empty prompt, context overflow and invalid tokens', () => {
    expect(() => stories.generate({ promptTokens: [] })).toThrow(EmptyPromptError)
    expect(() => stories.generate({ messages: [] })).toThrow(EmptyPromptError)
    expect(() => stories.generate({ promptTokens: new Array(600).fill(1) })).toThrow(ContextOverflowError)
    expect(() => stories.generate({ promptTokens: [1, 2, 3], maxTokens: 510 })).toThrow(ContextOverflowError)
    expect(() => stories.generate({ promptTokens: [1, 512] })).toThrow(InvalidTokenError)
    expect(() => stories.generate({ promptTokens: [1], topK: 0 })).toThrow(InvalidArgumentError)
  })

  it('uses the model chat template when the GGUF has one', async () => {
    const template =
      "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    const path = join(dir, 'templated.gguf')
    await writeTestModel({ path, seed: 4, ...shape, type: 'q8_0', chatTemplate: template })
    await using model = await loadModel({ path, threads: THREADS, contextSize: 256 })
    expect(model.summary.hasChatTemplate).toBe(true)
    const tokens = model.promptTokens([{ role: 'user', content: 'Hello' }])
    expect(model.detokenize(tokens)).toContain('<|user|>Hello')
    expect(model.detokenize(tokens)).toMatch(/<\|assistant\|>$/)
    expect(await model.tokenizePrompt([{ role: 'user', content: 'Hello' }])).toEqual(tokens)
    await expect(model.tokenizePrompt([{ role: 'tool', content: 'x' }])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
  })
})

describe('replay', () => {
  it('agrees with generation at the generated positions on stories260K (F32) within the tolerance', async () => {
    const result = await stories.generate({
      messages: [{ role: 'user', content: 'Tell me a story.' }],
      maxTokens: 100,
    }).result
    const positions = result.steps.map((s) => s.t)
    const replayed = await stories.replay({ ...result, positions, topK: 8 })
    expect(replayed).toHaveLength(positions.length)
    expectWithinTolerance(result, replayed)
  })

  it('stepwise, reproduces decoding bit for bit on stories260K (F32), where a prefill only comes close', async () => {
    // A verifier with another thread count, as a router beside a provider would be.
    const verifier = await loadModel({ path: testModelPath(), threads: 2, contextSize: 512 })
    try {
      let steps = 0
      let prefillExact = 0
      for (const [i, content] of ['Tell me a story.', 'Once upon a time', 'Tom had a dog'].entries()) {
        const choose =
          i === 0 ? undefined : (topK: ReadonlyArray<{ id: number }>, t: number) => topK[(t * 7 + i) % 3]!.id
        const result = await stories.generate({
          messages: [{ role: 'user', content }],
          maxTokens: 64,
          ...(choose && { choose }),
        }).result
        const positions = result.steps.map((s) => s.t)
        const stepwise = await verifier.replay({ ...result, positions, topK: 8, stepwise: true })
        expect(stepwise).toEqual(result.steps.map((s) => s.topK))
        const prefill = await verifier.replay({ ...result, positions, topK: 8 })
        steps += positions.length
        prefillExact += prefill.filter(
          (d, t) => JSON.stringify(d) === JSON.stringify(result.steps[t]!.topK),
        ).length
      }
      // The batched prefill sums in another order: float log-probs are close, not equal.
      expect(prefillExact).toBeLessThan(steps)
    } finally {
      await verifier.dispose()
    }
  })

  it('agrees exactly with generation on a generated Q8_0 model', async () => {
    const result = await generatedQ8.generate({
      messages: [{ role: 'user', content: 'Hello there' }],
      maxTokens: 100,
    }).result
    const positions = result.steps.map((s) => s.t)
    const replayed = await generatedQ8.replay({ ...result, positions, topK: 8 })
    expectWithinTolerance(result, replayed)
    expect(replayed).toEqual(result.steps.map((s) => s.topK))
  })

  it('returns only the requested positions, aligned, in any order and with duplicates', async () => {
    const result = await generatedQ8.generate({ promptTokens: [1, 300, 301], maxTokens: 80 }).result
    const n = result.outputTokens.length
    expect(n).toBeGreaterThan(10)
    const positions = [n - 1, 0, n >> 1, n >> 1, 3]
    const replayed = await generatedQ8.replay({ ...result, positions, topK: 5 })
    expect(replayed.map((d) => d.length)).toEqual([5, 5, 5, 5, 5])
    positions.forEach((t, i) => {
      expect(replayed[i]).toEqual(result.steps[t]!.topK.slice(0, 5))
    })
    expect(await generatedQ8.replay({ ...result, positions: [], topK: 5 })).toEqual([])
  })

  it('fails the comparison when a different model replays the output', async () => {
    const result = await generatedQ8.generate({
      messages: [{ role: 'user', content: 'Hello there' }],
      maxTokens: 50,
    }).result
    const positions = result.steps.map((s) => s.t)
    const replayed = await otherSeedQ8.replay({ ...result, positions, topK: 8 })
    const failing = result.steps.filter((step, i) => {
      const d = distributionDistance(step.topK, replayed[i]!)
      return (
        d.topKOverlap < CALIBRATED_TOLERANCE.minTopKOverlap ||
        d.maxLogprobDelta > CALIBRATED_TOLERANCE.maxLogprobDelta
      )
    })
    expect(failing.length).toBe(result.steps.length)
    const storiesReplay = await stories.replay({ ...result, positions: [0, 10, 20, 30], topK: 8 })
    storiesReplay.forEach((distribution, i) => {
      const d = distributionDistance(result.steps[i * 10]!.topK, distribution)
      expect(
        d.topKOverlap < CALIBRATED_TOLERANCE.minTopKOverlap ||
          d.maxLogprobDelta > CALIBRATED_TOLERANCE.maxLogprobDelta,
      ).toBe(true)
    })
  })

  it('serialises concurrent jobs on one model without mixing their state', async () => {
    const result = await generatedQ8.generate({ promptTokens: [1, 260, 270], maxTokens: 30 }).result
    const request = { ...result, positions: [0, 29], topK: 8 }
    const sequential = await generatedQ8.replay(request)
    const [a, b, c] = await Promise.all([
      generatedQ8.replay(request),
      generatedQ8.generate({ promptTokens: [1, 260, 270], maxTokens: 30 }).result,
      generatedQ8.replay(request),
    ])
    expect(a).toEqual(sequential)
    expect(c).toEqual(sequential)
    expect(b.outputTokens).toEqual(result.outputTokens)
  })

  it('runs jobs on several contexts at once with the numerics of one context (stories260K, F32)', async () => {
    const two = await loadModel({ path: stories.path, threads: THREADS, contextSize: 512, contexts: 2 })
    try {
      expect(two.parallel).toBe(2)
      expect(two.engineInfo.parallel).toBe(1)
      const results = await Promise.all(
        [0, 1, 2, 3].map((i) => stories.generate({ promptTokens: [1, 300 + i, 40], maxTokens: 24 }).result),
      )
      const request = (r: (typeof results)[number]) => ({ ...r, positions: r.steps.map((s) => s.t), topK: 8 })
      const solo = []
      for (const r of results) solo.push(await stories.replay(request(r)))
      // F32 replays are not bit-identical to decoding, but a replay on either context is bit-identical to
      // a replay on a single-context engine: contexts never share a batch.
      expect(await Promise.all(results.map((r) => two.replay(request(r))))).toEqual(solo)
    } finally {
      await two.dispose()
    }
  })

  it('replays a growing answer chunk by chunk with the cache kept, exactly as replays from scratch', async () => {
    const result = await generatedQ8.generate({ promptTokens: [1, 280, 281], maxTokens: 60 }).result
    const n = result.outputTokens.length
    expect(n).toBe(60)
    const chunked: Awaited<ReturnType<typeof generatedQ8.replay>> = []
    for (let from = 0; from < n; from += 16) {
      const positions = Array.from({ length: Math.min(16, n - from) }, (_, i) => from + i)
      const outputTokens = result.outputTokens.slice(0, from + positions.length)
      chunked.push(
        ...(await generatedQ8.replay({ ...result, outputTokens, positions, topK: 8, reuseCache: true })),
      )
      // Another job in between empties the cache; the next chunk must still be right.
      if (from === 16) await generatedQ8.generate({ promptTokens: [1, 7], maxTokens: 3 }).result
    }
    expect(chunked).toEqual(result.steps.map((s) => s.topK))
    // A replay of other tokens after a cached one is not fooled by the cache.
    const other = [...result.outputTokens]
    other[5] = (other[5]! + 1) % 512
    const fresh = await generatedQ8.replay({ ...result, outputTokens: other, positions: [10], topK: 8 })
    await generatedQ8.replay({ ...result, positions: [50], topK: 8, reuseCache: true })
    const reused = await generatedQ8.replay({
      ...result,
      outputTokens: other,
      positions: [10],
      topK: 8,
      reuseCache: true,
    })
    expect(reused).toEqual(fresh)
  })

  it('audits positions from a checked stream’s cache one token each (cutCache), with decoding’s bits on Q8_0', async () => {
    const result = await generatedQ8.generate({ promptTokens: [1, 290, 291], maxTokens: 60 }).result
    const n = result.outputTokens.length
    await checkStreamInChunks(generatedQ8, result, 8)
    const positions = [40, 5, 22, 22, n - 1]
    const cut = await generatedQ8.replay({ ...result, positions, topK: 8, reuseCache: true, cutCache: true })
    expect(cut).toEqual(positions.map((t) => result.steps[t]!.topK))
    // The cache now ends before step 5: a later position falls back to a prefill, still right.
    const later = await generatedQ8.replay({
      ...result,
      positions: [50],
      topK: 8,
      reuseCache: true,
      cutCache: true,
    })
    expect(later).toEqual([result.steps[50]!.topK])
    // A cache of other tokens is not cut into: the replay of these tokens is as from scratch.
    const other = [...result.outputTokens]
    other[3] = (other[3]! + 1) % 512
    await checkStreamInChunks(generatedQ8, { ...result, outputTokens: other }, 8)
    const afterOther = await generatedQ8.replay({
      ...result,
      positions: [30, 10],
      topK: 8,
      cutCache: true,
      reuseCache: true,
    })
    expect(afterOther).toEqual([result.steps[30]!.topK, result.steps[10]!.topK])

    // F32: the cut cache's logits are decoding's on a prefill-built cache, within the honest drift of a prefill.
    const f32 = await stories.generate({ promptTokens: [1, 300, 301], maxTokens: 48 }).result
    const steps = [3, 17, 30, 47]
    const fresh = await stories.replay({ ...f32, positions: steps, topK: 8 })
    await checkStreamInChunks(stories, f32, 8)
    const fromCache = await stories.replay({
      ...f32,
      positions: steps,
      topK: 8,
      reuseCache: true,
      cutCache: true,
    })
    steps.forEach((t, i) => {
      expect(fromCache[i]!.map((e) => e.id)).toEqual(fresh[i]!.map((e) => e.id))
      expect(distributionDistance(fromCache[i]!, f32.steps[t]!.topK).maxLogprobDelta).toBeLessThan(0.01)
    })
  })

  it('returns relative (top-k renormalised) distributions whose log-prob differences are the full ones', async () => {
    for (const model of [stories, generatedQ8]) {
      const result = await model.generate({ promptTokens: [1, 300, 301], maxTokens: 24 }).result
      const positions = result.steps.map((s) => s.t)
      const full = await model.replay({ ...result, positions, topK: 16 })
      const relative = await model.replay({ ...result, positions, topK: 16, relativePositions: positions })
      positions.forEach((t) => {
        const f = full[t]!
        const r = relative[t]!
        expect(r.map((e) => e.id)).toEqual(f.map((e) => e.id))
        const shift = f[0]!.logprob - r[0]!.logprob
        expect(shift).toBeLessThanOrEqual(1e-9)
        for (const [i, e] of r.entries()) expect(e.logprob + shift).toBeCloseTo(f[i]!.logprob, 5)
      })
    }
    await expect(
      generatedQ8.replay({
        promptTokens: [1, 5],
        outputTokens: [6, 7],
        positions: [0],
        topK: 4,
        relativePositions: [2],
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError)
  })

  it('gives typed errors for an empty prompt, overflow, bad positions and bad tokens', async () => {
    const ok = { promptTokens: [1, 5], outputTokens: [6, 7, 8], positions: [0], topK: 4 }
    await expect(stories.replay({ ...ok, promptTokens: [] })).rejects.toBeInstanceOf(EmptyPromptError)
    await expect(stories.replay({ ...ok, positions: [3] })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(stories.replay({ ...ok, positions: [-1] })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(stories.replay({ ...ok, outputTokens: [6, 9999, 8] })).rejects.toBeInstanceOf(
      InvalidTokenError,
    )
    await expect(
      stories.replay({ ...ok, outputTokens: new Array(600).fill(5), positions: [599] }),
    ).rejects.toBeInstanceOf(ContextOverflowError)
  })
})

describe('quantizeModel', () => {
  it.each([
    ['q8_0', 'Q8_0'],
    ['q4_0', 'Q4_0'],
  ] as const)(
    'writes a real %s model of stories260K: own hash, same tokenizer and metadata, close answers',
    async (type, label) => {
      const path = join(dir, `stories-${type}.gguf`)
      const { tensorsQuantized } = await quantizeModel({ from: stories.path, to: path, type })
      expect(tensorsQuantized).toBeGreaterThan(10)
      const quantized = await loadModel({ path, threads: THREADS, contextSize: 512 })
      try {
        expect(quantized.summary.quantization).toBe(label)
        expect(quantized.summary.architecture).toBe(stories.summary.architecture)
        expect(quantized.vocabSize).toBe(stories.vocabSize)
        expect((await quantized.identity()).hashHex).not.toBe((await stories.identity()).hashHex)
        expect(quantized.tokenize('Once upon a time')).toEqual(stories.tokenize('Once upon a time'))
        const prompt = { promptTokens: [1, ...stories.tokenize('Once upon a time')], maxTokens: 24 }
        const [a, b] = [await stories.generate(prompt).result, await quantized.generate(prompt).result]
        // The same weights quantised: the first greedy tokens agree (not all), and real words.
        expect(b.outputTokens[0]).toBe(a.outputTokens[0])
        if (type === 'q8_0') {
          const same = a.outputTokens.filter((t, i) => t === b.outputTokens[i]).length
          expect(same).toBeGreaterThan(a.outputTokens.length / 2)
        }
        expect(quantized.detokenize(b.outputTokens)).toMatch(/[a-z]{3,}/)
      } finally {
        await quantized.dispose()
      }
      await expect(quantizeModel({ from: join(dir, 'missing.gguf'), to: path, type })).rejects.toThrow()
    },
  )
})

describe('disposal', () => {
  it('disposes idempotently and refuses later jobs', async () => {
    const model = await loadModel({ path: testModelPath(), threads: THREADS, contextSize: 256 })
    const running = model.generate({ promptTokens: [1], maxTokens: 200 })
    await model.dispose()
    await model.dispose()
    expect(model.disposed).toBe(true)
    await expect(running.result).rejects.toBeDefined()
    expect(() => model.generate({ promptTokens: [1] })).toThrow(ModelDisposedError)
    await expect(
      model.replay({ promptTokens: [1], outputTokens: [5], positions: [0], topK: 1 }),
    ).rejects.toBeInstanceOf(ModelDisposedError)
  })
})
