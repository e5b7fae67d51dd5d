/**
 * Honest and F16-rounded opened-step drift, fresh prefill against the cut cache of a checked stream
 * (`tsx scripts/cut-cache-drift.ts [jobs]`, stories260K F32; docs/calibration.md, "The drift trigger").
 *
 * Per job: a greedy 32-token answer from the real model and from a copy with its weights rounded to F16;
 * 4 random opened steps; their largest and mean |Δ log-prob| against the answer's committed top-k, once
 * from a fresh prefill and once from the cache a 16-token-chunk stream check left (`cutCache`).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  distributionDistance,
  type EngineModel,
  loadModel,
  perturbModelWeights,
  type TokenLogprob,
} from '../src/index.js'
import { checkStreamInChunks } from '../test/support/stream-check.js'

const jobs = Number(process.argv[2] ?? 400)
const real =
  process.env.INFRAXA_TEST_MODEL ?? resolve(import.meta.dirname, '../../../../shared/models/stories260K.gguf')
const dir = await mkdtemp(join(tmpdir(), 'infraxa-cut-drift-'))
const rounded = join(dir, 'as-f16.gguf')
await perturbModelWeights({ from: real, to: rounded, roundTo: 'f16' })
const verifier = await loadModel({ path: real, threads: 1, contextSize: 512 })
const cheat = await loadModel({ path: rounded, threads: 1, contextSize: 512 })
let seed = 12345
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return seed / 2 ** 31
}
const rows = new Map<string, { largest: number[]; mean: number[] }>()
const add = (row: string, deltas: number[]) => {
  const r = rows.get(row) ?? { largest: [], mean: [] }
  rows.set(row, r)
  r.largest.push(Math.max(...deltas))
  r.mean.push(deltas.reduce((a, b) => a + b, 0) / deltas.length)
}
try {
  for (let j = 0; j < jobs; j++) {
    for (const [label, provider] of [
      ['honest', verifier],
      ['F32 → F16 rounding', cheat],
    ] as Array<[string, EngineModel]>) {
      const promptTokens = [1, 20 + (j % 400), 30 + ((j * 7) % 300)]
      const r = await provider.generate({ promptTokens, maxTokens: 32 }).result
      const n = r.outputTokens.length
      if (n < 4) continue
      const opened = new Set<number>()
      while (opened.size < 4) opened.add(Math.floor(random() * n))
      const positions = [...opened].sort((a, b) => a - b)
      const deltas = (replayed: TokenLogprob[][]) =>
        positions.map((t, i) => distributionDistance(r.steps[t]!.topK, replayed[i]!).maxLogprobDelta)
      add(`${label}, fresh prefill`, deltas(await verifier.replay({ ...r, positions, topK: 8 })))
      await checkStreamInChunks(verifier, r, 10)
      const cut = await verifier.replay({ ...r, positions, topK: 8, reuseCache: true, cutCache: true })
      add(`${label}, cut cache`, deltas(cut))
    }
  }
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const above = (xs: number[], v: number) =>
    `${((100 * xs.filter((x) => x > v).length) / xs.length).toFixed(1)}%`
  console.log(
    '| served, replayed by | jobs | largest: p50 / max | largest above 0.005 / 0.01 / 0.03 | mean: p50 / max | mean above 0.002 / 0.003 / 0.005 |',
  )
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const [row, { largest, mean }] of rows) {
    console.log(
      `| ${row} | ${largest.length} | ${p50(largest).toFixed(4)} / ${Math.max(...largest).toFixed(4)} | ${[0.005, 0.01, 0.03].map((v) => above(largest, v)).join(' / ')} | ${p50(mean).toFixed(4)} / ${Math.max(...mean).toFixed(4)} | ${[0.002, 0.003, 0.005].map((v) => above(mean, v)).join(' / ')} |`,
    )
  }
} finally {
  await cheat.dispose()
  await verifier.dispose()
  await rm(dir, { recursive: true, force: true })
}
