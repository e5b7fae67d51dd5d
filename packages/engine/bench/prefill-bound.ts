/**
 * The bound on a re-executing verifier: how much cheaper a teacher-forced prefill is per token than
 * decoding, per weight type and chunk size, on the generated 271M model (LARGE_BENCH_TEST_MODEL_CONFIG).
 * `pnpm --filter @infraxa/engine exec tsx bench/prefill-bound.ts [--threads 1] [--tokens 128] [--gpu auto]`.
 *
 * A verifier that replays a fraction `r` of the answer (4 uniform audited steps: r ≈ 0.8; verified
 * streaming: 1) costs at least r / ratio of generating it, before anything is scored. So ≤ 10% needs
 * ratio ≥ 8 (held) or ≥ 10 (verified streaming): prints which it reaches. Raw node-llama-cpp (plain
 * evaluation, logits at the last token only), so it measures the hardware and kernels, not this project.
 * Chunk 32 is the pinned replay setting (`PINNED_NUMERIC_SETTINGS`); 128 is not bit-exact for Q8_0.
 *
 * `--gpu auto` uses a GPU build where one is installed (none installs from the registry here: the bench
 * then says `cpu`). Compare only runs on an otherwise idle machine.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp'
import { LARGE_BENCH_TEST_MODEL_CONFIG, quantizeModel, writeTestModel } from '../src/index.js'

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    threads: { type: 'string', default: '1' },
    tokens: { type: 'string', default: '128' },
    gpu: { type: 'string', default: 'false' },
    runs: { type: 'string', default: '3' },
  },
})
const THREADS = Number(args.threads)
const TOKENS = Number(args.tokens)
const RUNS = Number(args.runs)
const CHUNKS = [32, 128]
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const dir = await mkdtemp(join(tmpdir(), 'infraxa-prefill-bound-'))
try {
  const f32 = join(dir, 'f32.gguf')
  const summary = await writeTestModel({ path: f32, ...LARGE_BENCH_TEST_MODEL_CONFIG, type: 'f32' })
  const files: Array<[string, string]> = [['F32', f32]]
  for (const type of ['q8_0', 'q4_0'] as const) {
    const path = join(dir, `${type}.gguf`)
    await quantizeModel({ from: f32, to: path, type })
    files.push([type.toUpperCase(), path])
  }
  const gpu = args.gpu === 'auto' ? 'auto' : args.gpu === 'false' ? false : (args.gpu as 'cuda')
  const llama = await getLlama({ build: 'never', gpu, maxThreads: 0, logLevel: LlamaLogLevel.error })
  console.log(
    `prefill vs decode: generated ${Math.round(summary.parameterCount / 1e6)}M llama, ${TOKENS} tokens, ` +
      `${THREADS} thread(s), backend ${llama.gpu || 'cpu'}; medians of ${RUNS}`,
  )
  console.log(
    '| weights | chunk | prefill ms/token | decode ms/token | ratio | held bound (0.8 / ratio) | streaming bound (1 / ratio) |',
  )
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  // Token ids past the byte tokens, varied so attention sees a real sequence.
  const tokens = Array.from({ length: TOKENS }, (_, i) => (300 + ((i * 37) % 2000)) as Token)
  for (const [label, path] of files) {
    const model = await llama.loadModel({ modelPath: path, gpuLayers: gpu === false ? 0 : 'max' })
    for (const chunk of CHUNKS) {
      const context = await model.createContext({
        contextSize: 2 * TOKENS,
        batchSize: chunk,
        threads: THREADS,
        flashAttention: true,
      })
      const sequence = context.getSequence()
      const prefill: number[] = []
      const decode: number[] = []
      for (let run = 0; run <= RUNS; run++) {
        await sequence.clearHistory()
        let t0 = performance.now()
        await sequence.evaluateWithoutGeneratingNewTokens(tokens)
        const p = (performance.now() - t0) / TOKENS
        await sequence.clearHistory()
        await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(0, 1))
        t0 = performance.now()
        for (const token of tokens.slice(1)) await sequence.evaluateWithoutGeneratingNewTokens([token])
        const d = (performance.now() - t0) / (TOKENS - 1)
        // The first run warms caches and allocations: not counted.
        if (run > 0) {
          prefill.push(p)
          decode.push(d)
        }
      }
      const ratio = median(decode) / median(prefill)
      const pct = (x: number) => `${(100 * x).toFixed(0)}%`
      console.log(
        `| ${label} | ${chunk} | ${median(prefill).toFixed(2)} | ${median(decode).toFixed(2)} | ${ratio.toFixed(2)} | ${pct(0.8 / ratio)} | ${pct(1 / ratio)} |`,
      )
      await context.dispose()
    }
    await model.dispose()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
