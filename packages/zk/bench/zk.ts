/**
 * zk_snark benchmarks: `pnpm --filter @infraxa/zk bench` (part of `pnpm bench`; the T = 8
 * and T = 32 rows need `tsx circuits/scripts/build.ts --circuit window_t8_k8` / `window_t32_k8`, which
 * build into node_modules/.cache/infraxa-zk/build and are skipped when absent). Prints medians measured
 * in this run; no thresholds. Goal: ≤ 5 s to prove a 32-token answer on 2 cores, ≤ 50 ms to verify it.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSampler } from '@infraxa/proofs/sampling'
import { commitStep } from '@infraxa/proofs/transcript'
import { ed25519Signer } from '@infraxa/protocol'
import {
  createZkProver,
  DEFAULT_ZK_ARTIFACTS_DIR,
  DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR,
  encodeZkModeProof,
  loadZkArtifacts,
  verifyWindow,
  verifyZkTranscript,
  type ZkArtifacts,
  zkRootOf,
} from '../src/index.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const cache = join(root, 'node_modules/.cache/infraxa-zk/build')
const signer = ed25519Signer(new Uint8Array(32).fill(3))
const jobId = new Uint8Array(16).fill(7)
const ANSWER = 32

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** A greedy transcript over a 32k vocabulary, k = 8. */
function transcript(n: number) {
  return Array.from({ length: n }, (_, t) => {
    const topK = Array.from({ length: 8 }, (_, i) => ({
      id: (t * 31 + i * 977) % 32000,
      logprob: -0.05 - i * 0.9 - (t % 7) / 10,
    }))
    return commitStep(t, { token: topK[0]!.id, topK })
  })
}

const builds: Array<[string, string]> = [
  ['window_t8_k8', join(cache, 'window_t8_k8')],
  ['window_t16_k8', DEFAULT_ZK_ARTIFACTS_DIR],
  ['window_t32_k8', join(cache, 'window_t32_k8')],
]

const rows: string[][] = [
  [
    'T',
    'constraints',
    'zkey',
    'prove / window',
    'prove 32 tokens',
    '… 2 processes',
    'per token',
    'verify 32',
    'verify 1 window',
    'proof B/token',
  ],
]

async function bench(artifacts: ZkArtifacts) {
  const T = artifacts.windowSize
  const steps = transcript(ANSWER)
  const prover = createZkProver({ artifacts })
  try {
    // Warm-up (worker start, snarkjs load, wasm compile), then the measured runs.
    await prover.proveWindow({ steps, index: 0 })
    const windowMs: number[] = []
    for (let i = 0; i < 3; i++) {
      const start = performance.now()
      await prover.proveWindow({ steps, index: 0 })
      windowMs.push(performance.now() - start)
    }
    const answerMs: number[] = []
    let last: Awaited<ReturnType<typeof prover.proveTranscript>> | undefined
    for (let i = 0; i < 2; i++) {
      const start = performance.now()
      last = await prover.proveTranscript({ jobId, steps })
      answerMs.push(performance.now() - start)
    }
    const parallel = createZkProver({ artifacts, processes: 2 })
    const parallelMs: number[] = []
    try {
      await parallel.proveTranscript({ jobId, steps })
      for (let i = 0; i < 2; i++) {
        const start = performance.now()
        await parallel.proveTranscript({ jobId, steps })
        parallelMs.push(performance.now() - start)
      }
    } finally {
      await parallel.close()
    }
    const { proof, zkRoot } = last!
    if (!zkRootOf({ jobId, steps, windowSize: T, topK: 8 }).every((b, i) => b === zkRoot[i]))
      throw new Error('root')
    const outputTokens = steps.map((s) => s.token)
    const verify = () => verifyZkTranscript({ artifacts, jobId, zkRoot, outputTokens, proof })
    if (!(await verify()).ok) throw new Error('honest proof does not verify')
    const verifyMs: number[] = []
    for (let i = 0; i < 5; i++) {
      const start = performance.now()
      await verify()
      verifyMs.push(performance.now() - start)
    }
    const oneMs: number[] = []
    for (let i = 0; i < 5; i++) {
      const start = performance.now()
      await verifyWindow({ artifacts, outputTokens, window: proof.windows[0]! })
      oneMs.push(performance.now() - start)
    }
    const bytes = encodeZkModeProof(proof, signer).length
    const answer = median(answerMs)
    rows.push([
      String(T),
      String(artifacts.manifest.constraints),
      `${(artifacts.manifest.files.zkey.bytes / 2 ** 20).toFixed(1)} MiB`,
      `${(median(windowMs) / 1000).toFixed(2)} s`,
      `${(answer / 1000).toFixed(2)} s (${proof.windows.length} windows)`,
      `${(median(parallelMs) / 1000).toFixed(2)} s`,
      `${(Math.min(answer, median(parallelMs)) / ANSWER).toFixed(0)} ms`,
      `${median(verifyMs).toFixed(1)} ms`,
      `${median(oneMs).toFixed(1)} ms`,
      `${(bytes / ANSWER).toFixed(1)} (${bytes} B signed)`,
    ])
  } finally {
    await prover.close()
  }
}

for (const [name, dir] of builds) {
  if (!existsSync(join(dir, 'manifest.json'))) {
    console.log(`(skipping ${name}: no build in ${dir})`)
    continue
  }
  await bench(loadZkArtifacts(dir))
}

const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
for (const r of rows) console.log(r.map((c, i) => c.padEnd(width[i]!)).join('  '))

/** p-th quantile (nearest rank). */
const quantile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil(p * xs.length) - 1]!

/** A sampled transcript (poseidon-gumbel at `sampling`), candidates in canonical order. */
function sampledTranscript(n: number, sampling: { temperature: number; seed: bigint }) {
  const choose = createSampler({ ...sampling, rule: 'poseidon-gumbel' })
  return Array.from({ length: n }, (_, t) => {
    const topK = Array.from({ length: 8 }, (_, i) => ({
      id: (t * 31 + i * 977) % 32000,
      logprob: -0.05 - i * 0.4 - (t % 7) / 10,
    }))
    return commitStep(t, { token: choose(topK, t), topK })
  })
}

/**
 * Prove and verify, p50 / p95, of 32- and 128-token answers: greedy with the release circuit (T = 16),
 * sampled (poseidon-gumbel, T = 0.8) with the sampled release circuit (T = 8); one prover process;
 * verify is `verifyZkTranscript` in the caller's thread (its one-time WebAssembly compile happened in
 * the section above).
 */
async function latencies(): Promise<void> {
  const table: string[][] = [['answer', 'prove p50', 'prove p95', 'verify p50', 'verify p95', 'runs']]
  const sampling = { temperature: 0.8, seed: 99n }
  for (const kind of ['greedy', 'sampled'] as const) {
    const artifacts = loadZkArtifacts(
      kind === 'greedy' ? DEFAULT_ZK_ARTIFACTS_DIR : DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR,
    )
    const prover = createZkProver({ artifacts })
    const make = (n: number) => (kind === 'greedy' ? transcript(n) : sampledTranscript(n, sampling))
    const rule = kind === 'greedy' ? {} : { sampling }
    try {
      await prover.proveWindow({ steps: make(artifacts.windowSize), index: 0, ...rule })
      for (const [tokens, runs] of [
        [32, 7],
        [128, 5],
      ] as const) {
        const steps = make(tokens)
        const proveMs: number[] = []
        let last: Awaited<ReturnType<typeof prover.proveTranscript>> | undefined
        for (let i = 0; i < runs; i++) {
          const start = performance.now()
          last = await prover.proveTranscript({ jobId, steps, ...rule })
          proveMs.push(performance.now() - start)
        }
        const { proof, zkRoot } = last!
        const outputTokens = steps.map((s) => s.token)
        const verifyMs: number[] = []
        for (let i = 0; i < 20; i++) {
          const start = performance.now()
          if (!(await verifyZkTranscript({ artifacts, jobId, zkRoot, outputTokens, proof, ...rule })).ok)
            throw new Error('verify')
          verifyMs.push(performance.now() - start)
        }
        table.push([
          `${tokens} tokens, ${kind} (T = ${artifacts.windowSize} windows)`,
          `${(quantile(proveMs, 0.5) / 1000).toFixed(2)} s`,
          `${(quantile(proveMs, 0.95) / 1000).toFixed(2)} s`,
          `${quantile(verifyMs, 0.5).toFixed(1)} ms`,
          `${quantile(verifyMs, 0.95).toFixed(1)} ms`,
          `${runs} / 20`,
        ])
      }
    } finally {
      await prover.close()
    }
  }
  console.log('\nzk_snark prove / verify (release circuits, k = 8, one prover process)')
  const w = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)))
  for (const r of table) console.log(r.map((c, i) => c.padEnd(w[i]!)).join('  '))
  console.log(
    `first verify in a process (compiles the WebAssembly curve once): ${firstVerifyMs.toFixed(0)} ms`,
  )
}
await latencies()
