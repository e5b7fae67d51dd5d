/**
 * Measures the honest noise of the per-token check: honest generations on one engine, re-executed on
 * another (other thread count; whole-answer and 16-token chunked replays, as verified streaming does),
 * each token scored with `scoreToken`. Prints, per model type: tokens, mismatches (margin > 0), their
 * rate with a 95% upper bound, and the margin quantiles. Feeds TOKEN_NOISE in @infraxa/engine.
 *
 * With `--cross-build`, the same answers are also replayed by other llama.cpp CPU builds of the same release
 * (haswell, x64: each in a child process with only that build, as engine calibration does).
 *
 * With `--stepwise`, the verifier replays each answer as decoding does (`stepwise: true`: the follow-up
 * replay of a job whose prefill check mismatched) instead; `--verifier-threads=N` sets its threads (2).
 *
 *   node apps/router/scripts/measure-token-noise.ts [jobs per config, default 60] [tokens, default 64] [--cross-build] [--stepwise] [--verifier-threads=N]
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { text } from 'node:stream/consumers'
import { fileURLToPath } from 'node:url'
import { distributionDistance, loadModel, toleranceForQuantization, writeTestModel } from '@infraxa/engine'
import { scoreToken, TOKEN_CHECK_EXTRA } from '@infraxa/proofs/audit'
import { createSampler } from '@infraxa/proofs/sampling'

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const crossBuild = process.argv.includes('--cross-build')
// --batch=B: the provider decodes B answers at once (parallel sequences of one context, batched decode).
const batch = Number(process.argv.find((a) => a.startsWith('--batch='))?.slice(8) ?? 1)
const stepwise = process.argv.includes('--stepwise')
const verifierThreads = Number(process.argv.find((a) => a.startsWith('--verifier-threads='))?.slice(19) ?? 2)
const jobs = Number(args[0] ?? 60)
const tokens = Number(args[1] ?? 64)
const engineScripts = resolve(import.meta.dirname, '../../../packages/engine/scripts')
const { prepareCpuVariantSandbox } = (await import(join(engineScripts, 'cpu-variants/sandbox.ts'))) as {
  prepareCpuVariantSandbox(variant: string, dir: string): Promise<string>
}

/** Replays whole answers with another CPU build of llama.cpp, in a child process (engine calibration's worker). */
async function replayWithBuild(
  variant: string,
  path: string,
  replays: Array<{ promptTokens: number[]; outputTokens: number[] }>,
): Promise<{ build: string; distributions: Array<Array<Array<{ id: number; logprob: number }>>> }> {
  const entry = await prepareCpuVariantSandbox(variant, join(work, 'sandboxes'))
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      fileURLToPath(new URL('cpu-variants/register-redirect.mjs', `file://${engineScripts}/`)),
      join(engineScripts, 'cpu-variants/replay-worker.ts'),
    ],
    {
      cwd: resolve(engineScripts, '..'),
      env: { ...process.env, INFRAXA_NODE_LLAMA_CPP_ENTRY: entry },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  child.stdin.end(
    JSON.stringify({
      path,
      threads: 2,
      contextSize: 512,
      topK: K + TOKEN_CHECK_EXTRA,
      replays: replays.map(({ promptTokens, outputTokens }) => ({ promptTokens, outputTokens })),
    }),
  )
  const [output, [code]] = await Promise.all([text(child.stdout), once(child, 'exit')])
  if (code !== 0) throw new Error(`replay worker for CPU build ${variant} exited with ${code}`)
  return JSON.parse(output)
}

function report(label: string, margins: number[], mismatches: number, what: string, drift: number): void {
  margins.sort((a, b) => a - b)
  const q = (p: number) => margins[Math.min(margins.length - 1, Math.floor(p * margins.length))]!
  const rate = mismatches / margins.length
  // Upper 95% bound (exact for 0 events: 3/n rule; else normal approximation on the rate).
  const upper =
    mismatches === 0 ? 3 / margins.length : rate + 1.96 * Math.sqrt((rate * (1 - rate)) / margins.length)
  const large = margins.filter((m) => m > 0.01).length
  console.log(
    `${label}: ${margins.length} scored tokens (${what}), ${mismatches} mismatches, rate ${rate.toExponential(2)} (95% ≤ ${upper.toExponential(2)}), ${large} with margin > 0.01, margin p99 ${q(0.99).toFixed(5)} p99.9 ${q(0.999).toFixed(5)} max ${margins.at(-1)!.toFixed(5)} (drift bound ${2 * drift})`,
  )
}
const K = 8
const work = mkdtempSync(join(tmpdir(), 'infraxa-noise-'))
const stories =
  process.env.INFRAXA_TEST_MODEL ?? resolve(import.meta.dirname, '../../../../shared/models/stories260K.gguf')
const q8 = await writeTestModel({
  path: join(work, 'q8.gguf'),
  seed: 7,
  vocab: 512,
  dim: 96,
  layers: 2,
  ff: 192,
  type: 'q8_0',
})
const f32 = await writeTestModel({
  path: join(work, 'f32.gguf'),
  seed: 7,
  vocab: 512,
  dim: 96,
  layers: 2,
  ff: 192,
  type: 'f32',
})
const words = ['Once', 'Tom', 'The cat', 'A big dog', 'Lily', 'Max and Sue', 'One day', 'The sun']

for (const [label, path, quantization] of [
  ['stories260K F32', stories, 'F32'],
  ['generated Q8_0', q8.path, 'Q8_0'],
  ['generated F32', f32.path, 'F32'],
] as const) {
  const provider = await loadModel({ path, threads: 1, contextSize: 512, parallel: batch })
  const verifier = await loadModel({ path, threads: verifierThreads, contextSize: 512 })
  const drift = toleranceForQuantization(quantization).maxLogprobDelta
  const margins: number[] = []
  let mismatches = 0
  const answers: Array<{
    promptTokens: number[]
    outputTokens: number[]
    sampling: { temperature: number; seed: bigint }
  }> = []
  const deltas: number[] = []
  const samplingOf = (j: number) => ({
    temperature: j % 3 === 0 ? 0 : [0.7, 1, 1.3][j % 3]!,
    seed: BigInt(j * 7919),
  })
  for (let j0 = 0; j0 < jobs; j0 += batch) {
    const group = Array.from({ length: Math.min(batch, jobs - j0) }, (_, i) => j0 + i)
    const results = await Promise.all(
      group.map(
        (j) =>
          provider.generate({
            messages: [{ role: 'user', content: `${words[j % words.length]} ${j}` }],
            maxTokens: tokens,
            topK: K,
            choose: createSampler(samplingOf(j)),
          }).result,
      ),
    )
    for (const [i, result] of results.entries()) {
      const sampling = samplingOf(group[i]!)
      const n = result.outputTokens.length
      answers.push({ promptTokens: result.promptTokens, outputTokens: result.outputTokens, sampling })
      const whole = await verifier.replay({
        ...result,
        positions: Array.from({ length: n }, (_, t) => t),
        topK: K + TOKEN_CHECK_EXTRA,
        stepwise,
      })
      const chunked: typeof whole = []
      for (let from = 0; from < n && !stepwise; from += 16) {
        const positions = Array.from({ length: Math.min(16, n - from) }, (_, i) => from + i)
        chunked.push(
          ...(await verifier.replay({
            promptTokens: result.promptTokens,
            outputTokens: result.outputTokens.slice(0, from + positions.length),
            positions,
            topK: K + TOKEN_CHECK_EXTRA,
            reuseCache: true,
          })),
        )
      }
      for (const [t, d] of whole.entries()) {
        deltas.push(distributionDistance(result.steps[t]!.topK, d.slice(0, K)).maxLogprobDelta)
      }
      for (const replay of stepwise ? [whole] : [whole, chunked]) {
        for (let t = 0; t < n; t++) {
          const s = scoreToken({
            step: t,
            token: result.outputTokens[t]!,
            distribution: replay[t]!,
            k: K,
            sampling,
            drift,
          })
          margins.push(s.margin)
          if (s.margin > 0) mismatches++
        }
      }
    }
  }
  await provider.dispose()
  await verifier.dispose()
  report(
    label,
    margins,
    mismatches,
    `${jobs} jobs decoded ${batch} at a time × ${stepwise ? 'stepwise' : 'whole + chunked'} replay, threads 1 → ${verifierThreads}`,
    drift,
  )
  deltas.sort((a, b) => a - b)
  const dq = (p: number) => deltas[Math.min(deltas.length - 1, Math.floor(p * deltas.length))]!.toFixed(5)
  console.log(
    `  |Δ log-prob| generation (batch ${batch}) vs ${stepwise ? 'stepwise ' : ''}replay alone: exact steps ${deltas.filter((d) => d === 0).length}/${deltas.length}, p50 ${dq(0.5)} p99 ${dq(0.99)} p99.9 ${dq(0.999)} max ${dq(1)}`,
  )
  if (!crossBuild) continue
  for (const variant of ['haswell', 'x64']) {
    const { build, distributions } = await replayWithBuild(variant, path, answers)
    const crossMargins: number[] = []
    let crossMismatches = 0
    answers.forEach((answer, j) => {
      answer.outputTokens.forEach((token, t) => {
        const s = scoreToken({
          step: t,
          token,
          distribution: distributions[j]![t]!,
          k: K,
          sampling: answer.sampling,
          drift: 1,
        })
        crossMargins.push(s.margin)
        if (s.margin > 0) crossMismatches++
      })
    })
    report(
      `${label} replayed by ${build}`,
      crossMargins,
      crossMismatches,
      `${jobs} jobs, whole replay`,
      drift,
    )
  }
}
