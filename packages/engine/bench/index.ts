/**
 * @infraxa/engine benchmarks: `pnpm --filter @infraxa/engine bench`. Prints medians and ratios measured
 * in this run; no thresholds (targets are read, not asserted).
 *
 * 1. Generation vs verification: decode tokens/s, full replay tokens/s and the cost of replaying 4
 *    audited steps of a 256-token answer, for stories260K and a ~60M-parameter generated Q8_0 model, with 1
 *    and 2 threads. Goal: replaying 4 audited steps costs ≤ 10% of generating the answer.
 * 2. The price of a per-step distribution with node-llama-cpp 3.21.1 (why generation asks for the full
 *    vocabulary: see src/next-token-distribution.ts).
 *
 * Usage: tsx bench/index.ts [--runs 3] [--tokens 256] [--threads 1,2]
 *
 * Thread counts above the number of idle cores distort everything (ggml's worker threads spin at each
 * barrier): on a shared machine, compare runs only when it is otherwise idle.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { parseArgs } from 'node:util'
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp'
import { BENCH_TEST_MODEL_CONFIG, loadModel, writeTestModel } from '../src/index.js'
import { testModelPath } from '../test/support/test-model-path.js'
import { noEog } from './no-eog.js'

const { values: args } = parseArgs({
  // `pnpm <script> -- --flag` passes the `--` through; ignore it.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    runs: { type: 'string', default: '3' },
    tokens: { type: 'string', default: '256' },
    threads: { type: 'string', default: '1,2' },
  },
})
const RUNS = Number(args.runs)
if (!(RUNS >= 1)) throw new Error('--runs must be at least 1')
const TOKENS = Number(args.tokens)
const THREADS = args.threads.split(',').map(Number)
const AUDITED = 4
const PROMPT = [
  { role: 'user' as const, content: 'Once upon a time, there was a little robot who wanted to fly.' },
]

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** Four audited positions spread over the answer; the last one makes the replay evaluate everything. */
function auditedPositions(n: number): number[] {
  return [Math.floor(n * 0.13), Math.floor(n * 0.41), Math.floor(n * 0.72), n - 1].slice(0, AUDITED)
}

interface Row {
  model: string
  threads: number
  promptTokens: number
  decodeTokPerS: number
  replayTokPerS: number
  generateMs: number
  replayAllMs: number
  replay4Ms: number
  /** Replay of the 4 audited steps with batchSize 512 (faster, but only CROSS_BUILD_TOLERANCE holds). */
  replay4FastMs: number
}

async function measure(name: string, path: string, threads: number): Promise<Row> {
  await using model = await loadModel({ path, threads, contextSize: 1024 })
  await using fast = await loadModel({ path, threads, contextSize: 1024, batchSize: 512 })
  const choose = noEog(model)
  const generate = () => model.generate({ messages: PROMPT, maxTokens: TOKENS, choose }).result
  const warm = await generate()
  const request = { promptTokens: warm.promptTokens, outputTokens: warm.outputTokens, topK: 8 }
  await model.replay({ ...request, positions: auditedPositions(TOKENS) })
  await fast.replay({ ...request, positions: auditedPositions(TOKENS) })

  const decode: number[] = []
  const total: number[] = []
  const replayAll: number[] = []
  const replay4: number[] = []
  const replay4Fast: number[] = []
  const allPositions = warm.steps.map((s) => s.t)
  for (let r = 0; r < RUNS; r++) {
    const { timings } = await generate()
    decode.push(timings.generateMs)
    total.push(timings.promptMs + timings.generateMs)
    let t0 = performance.now()
    await model.replay({ ...request, positions: allPositions })
    replayAll.push(performance.now() - t0)
    t0 = performance.now()
    await model.replay({ ...request, positions: auditedPositions(TOKENS) })
    replay4.push(performance.now() - t0)
    t0 = performance.now()
    await fast.replay({ ...request, positions: auditedPositions(TOKENS) })
    replay4Fast.push(performance.now() - t0)
  }
  const evaluated = warm.promptTokens.length + TOKENS - 1
  return {
    model: name,
    threads,
    promptTokens: warm.promptTokens.length,
    decodeTokPerS: ((TOKENS - 1) / median(decode)) * 1000,
    replayTokPerS: (evaluated / median(replayAll)) * 1000,
    generateMs: median(total),
    replayAllMs: median(replayAll),
    replay4Ms: median(replay4),
    replay4FastMs: median(replay4Fast),
  }
}

/** Per-step cost of asking node-llama-cpp for a distribution, on one model with one thread. */
async function distributionCost(path: string): Promise<string[]> {
  const llama = await getLlama({ build: 'never', gpu: false, maxThreads: 0, logLevel: LlamaLogLevel.error })
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 })
  const context = await model.createContext({
    contextSize: 1024,
    batchSize: 32,
    threads: 1,
    flashAttention: true,
  })
  const sequence = context.getSequence()
  const prompt = [1, ...model.tokenize('Once upon a time')] as Token[]
  const variants = {
    'token only (no distribution)': { token: true },
    'full vocabulary, sorted (what the engine uses)': { probabilities: true },
    'topK: 8 sampler option (k entries, renormalised over them)': {
      probabilities: true,
      options: { temperature: 1, topK: 8, topP: 1, minP: 0, seed: 0 },
    },
  } as const
  const lines: string[] = []
  const base: Record<string, number> = {}
  for (const [label, generateNext] of Object.entries(variants)) {
    const samples: number[] = []
    for (let r = 0; r < 3; r++) {
      await sequence.clearHistory()
      await sequence.controlledEvaluate(prompt)
      let token = prompt.at(-1)!
      for (let t = 0; t < 64; t++) {
        const t0 = performance.now()
        const [out] = await sequence.controlledEvaluate([[token, { generateNext }]])
        samples.push(performance.now() - t0)
        token = (out?.next.token ?? out?.next.probabilities?.keys().next().value ?? 1) as Token
        if (model.isEogToken(token)) token = 300 as Token
      }
    }
    base[label] = median(samples)
  }
  const tokenOnly = Object.values(base)[0]!
  for (const [label, ms] of Object.entries(base)) {
    lines.push(`| ${label} | ${ms.toFixed(2)} | ${(ms / tokenOnly).toFixed(2)}× |`)
  }
  await context.dispose()
  await model.dispose()
  await llama.dispose()
  return lines
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'infraxa-bench-'))
  try {
    const started = performance.now()
    const bench = await writeTestModel({ ...BENCH_TEST_MODEL_CONFIG, path: join(dir, 'bench-60m-q8_0.gguf') })
    console.error(
      `wrote ${basename(bench.path)}: ${(bench.parameterCount / 1e6).toFixed(1)}M parameters, ` +
        `${(bench.fileSize / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    )
    const models = [
      { name: 'stories260K (F32, 0.3M)', path: testModelPath() },
      { name: `generated Q8_0 (${(bench.parameterCount / 1e6).toFixed(0)}M)`, path: bench.path },
    ]
    const rows: Row[] = []
    for (const { name, path } of models) {
      for (const threads of THREADS) {
        const row = await measure(name, path, threads)
        rows.push(row)
        console.error(`measured ${name}, ${threads} thread(s)`)
      }
    }
    console.log(
      `\n### Generation vs verification (${TOKENS}-token answer, median of ${RUNS} runs, batchSize 32, flash attention)\n`,
    )
    console.log(
      'decode: generation with the engine (a full-vocabulary distribution per step); replay: teacher-forced, ' +
        'distributions at every position; replay 4: the 4 audited positions only (the last one forces the whole ' +
        'prefix); batch 512: the same with an unpinned batch size (about 3× faster prefill, not exact).\n',
    )
    console.log(
      '| model | threads | prompt | decode tok/s | replay tok/s | replay/decode speed | generate ms | replay all ms | ' +
        'replay 4 ms | replay 4 / generate | replay 4, batch 512 | / generate |',
    )
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for (const r of rows) {
      console.log(
        `| ${r.model} | ${r.threads} | ${r.promptTokens} | ${r.decodeTokPerS.toFixed(0)} | ${r.replayTokPerS.toFixed(0)} | ` +
          `${(r.replayTokPerS / r.decodeTokPerS).toFixed(1)}× | ${r.generateMs.toFixed(0)} | ${r.replayAllMs.toFixed(0)} | ` +
          `${r.replay4Ms.toFixed(0)} | ${((100 * r.replay4Ms) / r.generateMs).toFixed(1)}% | ` +
          `${r.replay4FastMs.toFixed(0)} | ${((100 * r.replay4FastMs) / r.generateMs).toFixed(1)}% |`,
      )
    }
    console.log(`\n### Per-step cost of the next-token distribution (${basename(bench.path)}, 1 thread)\n`)
    console.log('| asked for | ms per step (median) | vs token only |')
    console.log('|---|---|---|')
    for (const line of await distributionCost(bench.path)) console.log(line)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
