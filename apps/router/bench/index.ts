/**
 * Router benchmarks: `pnpm --filter @infraxa/router bench` (part of `pnpm bench`). One provider and one
 * router in this process, on loopback; sequential greedy jobs; medians per row.
 *
 * Verification cost per audited job: what the router spends re-executing — after the stream (audit of
 * 4 opened steps + the per-token check up to the last one) and, with verified streaming, on the chunks
 * while they stream — against the provider's decode time of the same answer. Router overhead: the
 * client's total time minus the provider's (queue + prompt + decode), i.e. signing, transport, HTTP-less
 * API and verification.
 *
 * Usage: tsx bench/index.ts [--jobs 8] [--tokens 128]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_TEST_MODEL_CONFIG, writeTestModel } from '@infraxa/engine'
import { createProvider } from '@infraxa/provider'
import type { CompletionRequest } from '../src/http.js'
import { createRouter } from '../src/index.js'

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { jobs: { type: 'string', default: '8' }, tokens: { type: 'string', default: '128' } },
})
const JOBS = Number(args.jobs)
const TOKENS = Number(args.tokens)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const dir = await mkdtemp(join(tmpdir(), 'infraxa-router-bench-'))
try {
  const big = await writeTestModel({ path: join(dir, 'bench.gguf'), ...BENCH_TEST_MODEL_CONFIG })
  const stories =
    process.env.INFRAXA_TEST_MODEL ??
    resolve(import.meta.dirname, '../../../../shared/models/stories260K.gguf')
  console.log(`router bench: ${JOBS} sequential greedy jobs of ${TOKENS} tokens per row, 1 thread each side`)
  console.log(
    '| model | streaming | provider decode ms | verify after ms | stream check ms | verification / decode | router overhead ms |',
  )
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  for (const [label, path] of [
    ['stories260K (F32)', stories],
    [`generated ${BENCH_TEST_MODEL_CONFIG.dim}×${BENCH_TEST_MODEL_CONFIG.layers} Q8_0`, big.path],
  ] as const) {
    const provider = await createProvider({
      models: [{ path, name: 'm' }],
      dataDir: join(dir, `${label}-p`),
      threads: 1,
      limits: { maxOutputTokens: 4096 },
    })
    const router = await createRouter({
      dataDir: join(dir, `${label}-r`),
      http: false,
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path }],
      threads: 1,
      probationJobs: 0,
    })
    try {
      for (const streaming of ['none', 'verified'] as const) {
        const decode: number[] = []
        const after: number[] = []
        const check: number[] = []
        const ratio: number[] = []
        const overhead: number[] = []
        for (let i = 0; i <= JOBS; i++) {
          const request: CompletionRequest = {
            model: 'm',
            messages: [{ role: 'user', content: `Once upon a time ${i}` }],
            maxTokens: TOKENS,
            temperature: 0,
            seed: 0n,
            stop: [],
            verification: 'merkle',
            stream: streaming === 'verified',
            streamMode: 'verified',
          }
          const started = performance.now()
          const result = await router.api.complete(
            request,
            streaming === 'verified' ? () => {} : undefined,
            new AbortController().signal,
          )
          const total = performance.now() - started
          if (i === 0) continue // warm-up
          const t = result.receipt.timings_ms
          decode.push(t.provider_decode!)
          after.push(t.verify!)
          check.push(t.stream_check ?? 0)
          ratio.push((t.verify! + (t.stream_check ?? 0)) / Math.max(1, t.provider_decode!))
          overhead.push(total - (t.provider_prompt! + t.provider_decode!))
        }
        console.log(
          `| ${label} | ${streaming} | ${median(decode).toFixed(0)} | ${median(after).toFixed(0)} | ${median(check).toFixed(0)} | ${(100 * median(ratio)).toFixed(1)} % | ${median(overhead).toFixed(0)} |`,
        )
      }
    } finally {
      await router.stop()
      await provider.stop()
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
