/**
 * Batched decoding: tokens/s of one model serving 8 answers at once with `parallel` 1, 4 and 8 (sequences
 * of one context, batched into one decode by llama.cpp), side by side in one run, and the largest
 * |Δ log-prob| of a batched step against its replay alone (the numerics the verifier sees).
 *
 * Usage: tsx bench/batching.ts [--jobs 8] [--tokens 64] [--threads 2]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { distributionDistance, loadModel, writeTestModel } from '../src/index.js'
import { testModelPath } from '../test/support/test-model-path.js'
import { noEog } from './no-eog.js'

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    jobs: { type: 'string', default: '8' },
    tokens: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
  },
})
const JOBS = Number(args.jobs)
const TOKENS = Number(args.tokens)
const THREADS = Number(args.threads)

const dir = await mkdtemp(join(tmpdir(), 'infraxa-batching-'))
try {
  const generated = await writeTestModel({
    path: join(dir, 'q8.gguf'),
    seed: 11,
    vocab: 2048,
    dim: 256,
    layers: 4,
    ff: 768,
    type: 'q8_0',
  })
  console.log(`batched decoding, ${JOBS} answers of ${TOKENS} tokens at once, ${THREADS} threads`)
  console.log('| model | parallel | wall s | tokens/s | × parallel 1 | max |Δ| vs replay alone |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const [label, path] of [
    ['stories260K (F32)', testModelPath()],
    ['generated 256×4 Q8_0', generated.path],
  ] as const) {
    let base = 0
    const verifier = await loadModel({ path, threads: THREADS, contextSize: 256 })
    for (const parallel of [1, 4, 8]) {
      const model = await loadModel({ path, threads: THREADS, contextSize: 256, parallel })
      const started = performance.now()
      const results = await Promise.all(
        Array.from(
          { length: JOBS },
          (_, i) =>
            model.generate({
              promptTokens: [1, 10 + i, 20 + i],
              maxTokens: TOKENS,
              choose: noEog(model),
            }).result,
        ),
      )
      const seconds = (performance.now() - started) / 1000
      const rate = (JOBS * TOKENS) / seconds
      if (parallel === 1) base = rate
      let maxDelta = 0
      for (const r of results) {
        const replayed = await verifier.replay({ ...r, positions: r.steps.map((s) => s.t), topK: 8 })
        r.steps.forEach((s, t) => {
          maxDelta = Math.max(maxDelta, distributionDistance(s.topK, replayed[t]!).maxLogprobDelta)
        })
      }
      console.log(
        `| ${label} | ${parallel} | ${seconds.toFixed(2)} | ${rate.toFixed(0)} | ${(rate / base).toFixed(2)} | ${maxDelta.toFixed(5)} |`,
      )
      await model.dispose()
    }
    await verifier.dispose()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
