/**
 * Router benchmarks: `pnpm --filter @infraxa/router bench` (part of `pnpm bench`). One provider process
 * and one router in this process, on loopback; sequential greedy jobs; medians per row.
 *
 * Verification cost per audited job, two ways:
 * - **CPU**: the CPU time this process (the router: verification, signing, transport) spent on the job
 *   against the provider process's CPU time for it (prompt, decode, commitment, signing, the audit
 *   answer). Contention-proof: with verified streaming the router replays chunks while the provider
 *   decodes, and on 2 cores wall-clock times would count the wait for a core as cost.
 * - **wall**: what the router spent re-executing after the stream (audit of the opened steps + the
 *   per-token check of every step) and, with verified streaming, on the chunks while they streamed,
 *   against the provider's decode time of the same answer.
 * Router overhead: the client's total time minus the provider's (queue + prompt + decode).
 *
 * Usage: tsx bench/index.ts [--jobs 8] [--tokens 128]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_TEST_MODEL_CONFIG, LARGE_BENCH_TEST_MODEL_CONFIG, writeTestModel } from '@infraxa/engine'
import type { CompletionRequest } from '../src/http.js'
import { createRouter } from '../src/index.js'
import { processCpuMs, spawnProvider } from './processes.js'

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { jobs: { type: 'string', default: '8' }, tokens: { type: 'string', default: '128' } },
})
const JOBS = Number(args.jobs)
const TOKENS = Number(args.tokens)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const cpuMs = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

const dir = await mkdtemp(join(tmpdir(), 'infraxa-router-bench-'))
try {
  const big = await writeTestModel({ path: join(dir, 'bench.gguf'), ...BENCH_TEST_MODEL_CONFIG })
  const large = await writeTestModel({
    path: join(dir, 'bench-large.gguf'),
    ...LARGE_BENCH_TEST_MODEL_CONFIG,
  })
  const stories =
    process.env.INFRAXA_TEST_MODEL ??
    resolve(import.meta.dirname, '../../../../shared/models/stories260K.gguf')
  console.log(
    `router bench: sequential greedy jobs of ${TOKENS} tokens, 1 thread each side, provider in its own process`,
  )
  console.log(
    '| model | streaming | jobs | provider CPU ms | router CPU ms | router / provider CPU | provider decode ms | verify after ms | stream check ms | verification / decode (wall) | router overhead ms |',
  )
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  const generated = (c: typeof BENCH_TEST_MODEL_CONFIG, m: { parameterCount: number }) =>
    `generated ${c.dim}×${c.layers} Q8_0 (${Math.round(m.parameterCount / 1e6)}M, output layer ${Math.round((100 * c.vocab * c.dim) / m.parameterCount)}%)`
  for (const [label, path, jobs] of [
    ['stories260K (F32)', stories, JOBS],
    [generated(BENCH_TEST_MODEL_CONFIG, big), big.path, JOBS],
    // ~9 s of decoding per job on one thread: fewer jobs.
    [generated(LARGE_BENCH_TEST_MODEL_CONFIG, large), large.path, Math.min(JOBS, 4)],
  ] as const) {
    const provider = await spawnProvider(
      ['--model', path, '--data-dir', join(dir, `${label}-p`), '--threads', '1'],
      180_000,
    )
    const router = await createRouter({
      dataDir: join(dir, `${label}-r`),
      http: false,
      bootstrap: provider.multiaddrs,
      verifyModels: [{ path }],
      threads: 1,
      probationJobs: 0,
    })
    try {
      for (const streaming of ['none', 'verified'] as const) {
        const rows = {
          providerCpu: [] as number[],
          routerCpu: [] as number[],
          cpuRatio: [] as number[],
          decode: [] as number[],
          after: [] as number[],
          check: [] as number[],
          ratio: [] as number[],
          overhead: [] as number[],
        }
        for (let i = 0; i <= jobs; i++) {
          const request: CompletionRequest = {
            model: provider.models[0]!,
            messages: [{ role: 'user', content: `Once upon a time ${i}` }],
            maxTokens: TOKENS,
            temperature: 0,
            seed: 0n,
            stop: [],
            verification: 'merkle',
            stream: streaming === 'verified',
            streamMode: 'verified',
          }
          const providerBefore = processCpuMs(provider.pid)
          const routerBefore = cpuMs()
          const started = performance.now()
          const result = await router.api.complete(
            request,
            streaming === 'verified' ? () => {} : undefined,
            new AbortController().signal,
          )
          const total = performance.now() - started
          const routerCpu = cpuMs() - routerBefore
          const providerCpu = processCpuMs(provider.pid) - providerBefore
          if (i === 0) continue // warm-up
          const t = result.receipt.timings_ms
          rows.providerCpu.push(providerCpu)
          rows.routerCpu.push(routerCpu)
          rows.cpuRatio.push(routerCpu / Math.max(1, providerCpu))
          rows.decode.push(t.provider_decode!)
          rows.after.push(t.verify!)
          rows.check.push(t.stream_check ?? 0)
          rows.ratio.push((t.verify! + (t.stream_check ?? 0)) / Math.max(1, t.provider_decode!))
          rows.overhead.push(total - (t.provider_prompt! + t.provider_decode!))
        }
        const m = (xs: number[]) => median(xs).toFixed(0)
        console.log(
          `| ${label} | ${streaming} | ${jobs} | ${m(rows.providerCpu)} | ${m(rows.routerCpu)} | ${(100 * median(rows.cpuRatio)).toFixed(1)} % | ${m(rows.decode)} | ${m(rows.after)} | ${m(rows.check)} | ${(100 * median(rows.ratio)).toFixed(1)} % | ${m(rows.overhead)} |`,
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
