/**
 * Calibration of the replay tolerance (`pnpm --filter @infraxa/engine calibrate`).
 *
 * Measures |Δ log-prob| (over shared ids) and top-k overlap between a generation's committed top-k and a
 * teacher-forced replay, for pairs that must pass — (a) replay on the same model and settings, (b) another
 * thread count — and pairs that must fail — (c) the same weights in F32 vs Q8_0, (d) different models —
 * plus honest replays under other settings: (e) unpinned batch size, flash attention or context size,
 * (f) another llama.cpp CPU build of the same release (Linux x64: a sandboxed copy of node-llama-cpp with
 * only that `libggml-cpu-<variant>.so`, replaying in a child process). Prints a Markdown report; with
 * `--write` it also replaces the measured section of docs/calibration.md.
 *
 * Usage: tsx scripts/calibrate.ts [--write] [--steps 64] [--prompts 6] [--model extra.gguf ...] [--no-cross-build]
 * (`--model` adds honest pairs (a), (b) for a model you serve, e.g. to check a large F16 model's drift.)
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { text } from 'node:stream/consumers'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import {
  CALIBRATED_TOLERANCE,
  CROSS_BUILD_TOLERANCE,
  DEFAULT_TOP_K,
  type DistributionTolerance,
  distributionDistance,
  type EngineModel,
  type GenerationResult,
  loadModel,
  type TestModelConfig,
  type TokenLogprob,
  writeTestModel,
} from '../src/index.js'
import { SeededRandom } from '../src/test-model/seeded-random.js'
import { testModelPath } from '../test/support/test-model-path.js'
import { availableCpuVariants, prepareCpuVariantSandbox } from './cpu-variants/sandbox.js'

const { values: args } = parseArgs({
  // `pnpm <script> -- --flag` passes the `--` through; ignore it.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  allowNegative: true,
  options: {
    write: { type: 'boolean', default: false },
    steps: { type: 'string', default: '64' },
    prompts: { type: 'string', default: '6' },
    model: { type: 'string', multiple: true, default: [] },
    'cross-build': { type: 'boolean', default: true },
  },
})
const STEPS = Number(args.steps)
const PROMPT_COUNT = Number(args.prompts)
const K = DEFAULT_TOP_K
const AUDITED_STEPS = 4
/** Other CPU builds to replay with (group f): AVX2 and the x86-64 baseline. */
const CROSS_BUILD_VARIANTS = ['haswell', 'x64']
const PROMPTS = [
  'Once upon a time, there was a little cat.',
  'Tell me a story about the sea.',
  'Why is the sky blue?',
  'Lily and Ben went to the park. They saw a big dog.',
  'Write a poem about the moon.',
  'What do you like to eat?',
].slice(0, PROMPT_COUNT)

interface Settings {
  threads: number
  batchSize?: number
  flashAttention?: boolean
  contextSize?: number
}
interface ModelRef {
  name: string
  path: string
}
interface Side {
  model: ModelRef
  settings: Settings
  /** Replay with this llama.cpp CPU variant (in a child process) instead of the one picked for this CPU. */
  cpuVariant?: string
}
interface Pair {
  group: 'a' | 'b' | 'c' | 'd' | 'e' | 'f'
  label: string
  provider: Side
  verifier: Side
}
interface StepDistance {
  delta: number
  overlap: number
}

const GENERATED_SHAPE = { vocab: 512, dim: 256, layers: 4, ff: 768 } as const

async function prepareModels(dir: string) {
  const write = async (name: string, config: TestModelConfig): Promise<ModelRef> => {
    const { path, parameterCount } = await writeTestModel({ ...config, path: join(dir, `${name}.gguf`) })
    console.error(`wrote ${name}: ${parameterCount} parameters`)
    return { name, path }
  }
  return {
    stories: { name: 'stories260K (F32)', path: testModelPath() },
    aF32: await write('gen-seed11-F32', { seed: 11, ...GENERATED_SHAPE, type: 'f32' }),
    aQ8: await write('gen-seed11-Q8_0', { seed: 11, ...GENERATED_SHAPE, type: 'q8_0' }),
    bQ8: await write('gen-seed12-Q8_0', { seed: 12, ...GENERATED_SHAPE, type: 'q8_0' }),
    extra: (args.model ?? []).map((path) => ({ name: basename(path), path })),
  }
}

function pairs(m: Awaited<ReturnType<typeof prepareModels>>, variants: readonly string[]): Pair[] {
  const t1 = { threads: 1 }
  const t2 = { threads: 2 }
  const same = (
    group: Pair['group'],
    model: ModelRef,
    provider: Settings,
    verifier: Settings,
    label: string,
  ) => ({
    group,
    label: `${model.name}: ${label}`,
    provider: { model, settings: provider },
    verifier: { model, settings: verifier },
  })
  const across = (group: Pair['group'], provider: ModelRef, verifier: ModelRef): Pair => ({
    group,
    label: `${provider.name} → ${verifier.name}`,
    provider: { model: provider, settings: t1 },
    verifier: { model: verifier, settings: t1 },
  })
  return [
    same('a', m.stories, t1, t1, 'generate vs replay, 1 thread'),
    same('a', m.aQ8, t1, t1, 'generate vs replay, 1 thread'),
    same('a', m.aF32, t1, t1, 'generate vs replay, 1 thread'),
    same('a', m.aQ8, t2, t2, 'generate vs replay, 2 threads'),
    same('b', m.stories, t1, t2, 'generate 1 thread, replay 2 threads'),
    same('b', m.aQ8, t1, t2, 'generate 1 thread, replay 2 threads'),
    same('b', m.aF32, t1, t2, 'generate 1 thread, replay 2 threads'),
    across('c', m.aF32, m.aQ8),
    across('c', m.aQ8, m.aF32),
    across('d', m.stories, m.aQ8),
    across('d', m.aQ8, m.stories),
    across('d', m.aQ8, m.bQ8),
    ...m.extra.flatMap((model) => [
      same('a', model, t1, t1, 'generate vs replay, 1 thread'),
      same('b', model, t1, t2, 'generate 1 thread, replay 2 threads'),
    ]),
    same('e', m.aQ8, t1, { threads: 1, batchSize: 63 }, 'replay with batchSize 63'),
    same('e', m.aQ8, t1, { threads: 1, batchSize: 64 }, 'replay with batchSize 64 (unpinned)'),
    same('e', m.aQ8, t1, { threads: 1, batchSize: 512 }, 'replay with batchSize 512 (unpinned)'),
    same('e', m.aQ8, t1, { threads: 1, flashAttention: false }, 'replay without flash attention (unpinned)'),
    same('e', m.stories, t1, { threads: 1, batchSize: 512 }, 'replay with batchSize 512 (unpinned)'),
    same('e', m.aQ8, t1, { threads: 1, contextSize: 1024 } as Settings, 'replay with contextSize 1024'),
    ...variants.flatMap((variant) =>
      [m.aQ8, m.aF32, m.stories].map(
        (model): Pair => ({
          group: 'f',
          label: `${model.name}: replay with CPU build ${variant}`,
          provider: { model, settings: t1 },
          verifier: { model, settings: t1, cpuVariant: variant },
        }),
      ),
    ),
  ]
}

function sideKey(side: Side): string {
  return JSON.stringify([side.model.path, side.settings])
}

const loaded = new Map<string, Promise<EngineModel>>()
function modelFor(side: Side): Promise<EngineModel> {
  const key = sideKey(side)
  let model = loaded.get(key)
  if (!model) {
    model = loadModel({ path: side.model.path, contextSize: 512, ...side.settings })
    loaded.set(key, model)
  }
  return model
}

/**
 * Seeded temperature-1 sampling from the top-k that skips end-of-generation tokens, so every prompt
 * yields `STEPS` steps from varied contexts (greedy decoding of random models loops).
 */
function calibrationSampler(model: EngineModel, seed: number) {
  const random = new SeededRandom(seed, 'calibration-sampler')
  return (topK: readonly TokenLogprob[]) => {
    const candidates = topK.filter((e) => !model.isEndOfGeneration(e.id))
    if (candidates.length === 0) return topK[0]!.id
    const weights = candidates.map((e) => Math.exp(e.logprob))
    let u = ((random.nextSymmetric() + 1) / 2) * weights.reduce((a, b) => a + b, 0)
    for (let i = 0; i < candidates.length; i++) {
      u -= weights[i]!
      if (u <= 0) return candidates[i]!.id
    }
    return candidates.at(-1)!.id
  }
}

const generations = new Map<string, Promise<GenerationResult[]>>()
function generationsFor(side: Side): Promise<GenerationResult[]> {
  const key = sideKey(side)
  let results = generations.get(key)
  if (!results) {
    results = (async () => {
      const model = await modelFor(side)
      const out: GenerationResult[] = []
      for (const [i, content] of PROMPTS.entries()) {
        const generation = model.generate({
          messages: [{ role: 'user', content }],
          maxTokens: STEPS,
          topK: K,
          choose: calibrationSampler(model, i),
        })
        out.push(await generation.result)
      }
      return out
    })()
    generations.set(key, results)
  }
  return results
}

/** Replays every position of each generation on the verifier side (in-process or in a CPU-variant child). */
async function replayAll(side: Side, committed: readonly GenerationResult[]): Promise<TokenLogprob[][][]> {
  if (side.cpuVariant) return replayInCpuVariant(side, committed)
  const verifier = await modelFor(side)
  const out: TokenLogprob[][][] = []
  for (const result of committed) {
    const positions = result.steps.map((s) => s.t)
    out.push(await verifier.replay({ ...result, positions, topK: K }))
  }
  return out
}

let sandboxDir: string
const sandboxes = new Map<string, Promise<string>>()

async function replayInCpuVariant(
  side: Side,
  committed: readonly GenerationResult[],
): Promise<TokenLogprob[][][]> {
  const variant = side.cpuVariant!
  let entry = sandboxes.get(variant)
  if (!entry) {
    entry = prepareCpuVariantSandbox(variant, sandboxDir)
    sandboxes.set(variant, entry)
  }
  const here = new URL('.', import.meta.url)
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      fileURLToPath(new URL('cpu-variants/register-redirect.mjs', here)),
      fileURLToPath(new URL('cpu-variants/replay-worker.ts', here)),
    ],
    {
      cwd: fileURLToPath(new URL('..', here)),
      env: { ...process.env, INFRAXA_NODE_LLAMA_CPP_ENTRY: await entry },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  child.stdin.end(
    JSON.stringify({
      path: side.model.path,
      contextSize: 512,
      topK: K,
      ...side.settings,
      replays: committed.map((r) => ({ promptTokens: r.promptTokens, outputTokens: r.outputTokens })),
    }),
  )
  const [output, [code]] = await Promise.all([text(child.stdout), once(child, 'exit')])
  if (code !== 0) throw new Error(`replay worker for CPU build ${variant} exited with ${code}`)
  const { build, distributions } = JSON.parse(output) as { build: string; distributions: TokenLogprob[][][] }
  if (build !== `cpu-${variant}`) throw new Error(`replay worker ran on ${build}, not cpu-${variant}`)
  return distributions
}

async function measure(pair: Pair): Promise<StepDistance[]> {
  const committed = await generationsFor(pair.provider)
  const replayed = await replayAll(pair.verifier, committed)
  const distances: StepDistance[] = []
  committed.forEach((result, j) => {
    result.steps.forEach((step, i) => {
      const d = distributionDistance(step.topK, replayed[j]![i]!)
      distances.push({ delta: d.maxLogprobDelta, overlap: d.topKOverlap })
    })
  })
  return distances
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!
}

function passes(d: StepDistance, tolerance: DistributionTolerance): boolean {
  return d.overlap >= tolerance.minTopKOverlap && d.delta <= tolerance.maxLogprobDelta
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '∞'
  if (x === 0) return '0'
  if (Math.abs(x) < 1e-3) return x.toExponential(1)
  return x.toFixed(Math.abs(x) < 0.1 ? 4 : 3)
}

/** Rounds up to one significant digit in the first half, e.g. 0.0234 → 0.03, 0.061 → 0.07. */
function roundUp(x: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(x))
  return Math.ceil(x / magnitude) * magnitude
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'infraxa-calibration-'))
  try {
    sandboxDir = dir
    const models = await prepareModels(dir)
    const reference = (await modelFor({ model: models.aQ8, settings: { threads: 1 } })).engineInfo
    const native = reference.build
    const variants = args['cross-build']
      ? (await availableCpuVariants()).filter(
          (v) => CROSS_BUILD_VARIANTS.includes(v) && `cpu-${v}` !== native,
        )
      : []
    const measured: Array<{ pair: Pair; distances: StepDistance[] }> = []
    for (const pair of pairs(models, variants)) {
      const started = performance.now()
      measured.push({ pair, distances: await measure(pair) })
      console.error(
        `measured ${pair.group} ${pair.label} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      )
    }

    const honest = measured
      .filter((m) => m.pair.group === 'a' || m.pair.group === 'b')
      .flatMap((m) => m.distances)
    const honestMaxDelta = Math.max(...honest.map((d) => d.delta))
    const honestMinOverlap = Math.min(...honest.map((d) => d.overlap))
    const proposed: DistributionTolerance = {
      maxLogprobDelta: roundUp(Math.max(2 * honestMaxDelta, 1e-3)),
      minTopKOverlap: Math.min(honestMinOverlap, 1 - 2 / K),
    }
    const unpinned = measured
      .filter((m) => m.pair.group === 'e' || m.pair.group === 'f')
      .flatMap((m) => m.distances)
    const unpinnedMaxDelta = Math.max(...unpinned.map((d) => d.delta))
    const unpinnedMinOverlap = Math.min(...unpinned.map((d) => d.overlap))

    const lines: string[] = []
    lines.push(
      `Measured by \`pnpm --filter @infraxa/engine calibrate\` on ${new Date().toISOString().slice(0, 10)}, ` +
        `node-llama-cpp ${reference.engineVersion}, native CPU build ${native}: ` +
        `k = ${K}, ${PROMPTS.length} prompts × ${STEPS} steps = ${PROMPTS.length * STEPS} steps per pair, ` +
        `context 512, batchSize 32 and flash attention on unless stated. Generated models: vocab ` +
        `${GENERATED_SHAPE.vocab}, dim ${GENERATED_SHAPE.dim}, ${GENERATED_SHAPE.layers} layers, ff ${GENERATED_SHAPE.ff}.`,
      '',
      `"pass" is the share of steps within CALIBRATED_TOLERANCE ${JSON.stringify(CALIBRATED_TOLERANCE)}, ` +
        `"caught in ${AUDITED_STEPS}" the chance that at least one of ${AUDITED_STEPS} random audited steps fails it ` +
        `(1 − pass^${AUDITED_STEPS}); "pass x-build" uses CROSS_BUILD_TOLERANCE ${JSON.stringify(CROSS_BUILD_TOLERANCE)}.`,
      '',
      '| group | pair | steps | max \\|Δ\\| | p99 \\|Δ\\| | median \\|Δ\\| | exact steps | min overlap | mean overlap | pass | caught in 4 | pass x-build |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
    )
    for (const { pair, distances } of measured) {
      const deltas = distances.map((d) => d.delta).sort((a, b) => a - b)
      const overlaps = distances.map((d) => d.overlap)
      const exact = distances.filter((d) => d.delta === 0 && d.overlap === 1).length
      const passRate = distances.filter((d) => passes(d, CALIBRATED_TOLERANCE)).length / distances.length
      const crossPassRate =
        distances.filter((d) => passes(d, CROSS_BUILD_TOLERANCE)).length / distances.length
      lines.push(
        `| ${pair.group} | ${pair.label} | ${distances.length} | ${fmt(deltas.at(-1)!)} | ${fmt(quantile(deltas, 0.99))} | ` +
          `${fmt(quantile(deltas, 0.5))} | ${exact} | ${Math.min(...overlaps).toFixed(3)} | ` +
          `${(overlaps.reduce((a, b) => a + b, 0) / overlaps.length).toFixed(3)} | ${(100 * passRate).toFixed(1)}% | ` +
          `${(100 * (1 - passRate ** AUDITED_STEPS)).toFixed(1)}% | ${(100 * crossPassRate).toFixed(1)}% |`,
      )
    }
    lines.push(
      '',
      `Honest pairs (a, b): largest |Δ| ${fmt(honestMaxDelta)}, smallest overlap ${honestMinOverlap.toFixed(3)}. ` +
        `Rule (2 × largest honest |Δ| rounded up; overlap allowing ${2} of ${K} boundary swaps) proposes ` +
        `{ maxLogprobDelta: ${proposed.maxLogprobDelta}, minTopKOverlap: ${proposed.minTopKOverlap} }. ` +
        `Honest replays under other settings or builds (e, f): largest |Δ| ${fmt(unpinnedMaxDelta)}, smallest ` +
        `overlap ${unpinnedMinOverlap.toFixed(3)}.`,
    )
    const report = lines.join('\n')
    console.log(report)

    if (args.write) {
      const docPath = new URL('../docs/calibration.md', import.meta.url)
      const doc = await readFile(docPath, 'utf8')
      const begin = '<!-- calibration:begin -->'
      const end = '<!-- calibration:end -->'
      const from = doc.indexOf(begin)
      const to = doc.indexOf(end)
      if (from < 0 || to < from) throw new Error(`docs/calibration.md lacks the ${begin} / ${end} markers`)
      await writeFile(docPath, `${doc.slice(0, from + begin.length)}\n${report}\n${doc.slice(to)}`)
      console.error('updated docs/calibration.md')
    }
  } finally {
    for (const model of loaded.values()) await (await model).dispose()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
