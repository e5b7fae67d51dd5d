/**
 * Soak: 1,000 chat completions, 64 in flight, over HTTP through one router process to 10 provider
 * processes (the apps' own bins, loopback only) serving a generated tiny model; every answer verified
 * per the default mode (merkle, audited). Prints ok/failed, throughput, latency percentiles, router
 * overhead (client latency − provider prompt + decode), the share of requests per provider, the honest
 * control (reputation penalties, failed verdicts), and one provider decoder's tokens/s with 1, 4 and 8
 * sequences batched side by side.
 *
 * Usage: tsx bench/soak.ts [--requests 1000] [--concurrency 64] [--providers 10] [--tokens 16]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadModel, TINY_TEST_MODEL_CONFIG, writeTestModel } from '@infraxa/engine'
import { ms, type ProviderProcess, quantile, spawnProvider, spawnRouter } from './processes.js'

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    requests: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
    providers: { type: 'string', default: '10' },
    tokens: { type: 'string', default: '16' },
  },
})
const REQUESTS = Number(args.requests)
const CONCURRENCY = Number(args.concurrency)
const PROVIDERS = Number(args.providers)
const TOKENS = Number(args.tokens)

const dir = await mkdtemp(join(tmpdir(), 'infraxa-soak-'))
const started: Array<{ stop(): Promise<void> }> = []
try {
  const model = await writeTestModel({ path: join(dir, 'soak-tiny.gguf'), ...TINY_TEST_MODEL_CONFIG })
  const providers: ProviderProcess[] = []
  for (let i = 0; i < PROVIDERS; i += 5) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(5, PROVIDERS - i) }, (_, j) =>
        spawnProvider([
          '--model',
          model.path,
          '--data-dir',
          join(dir, `provider-${i + j}`),
          '--threads',
          '1',
          '--max-queue',
          '64',
        ]),
      ),
    )
    providers.push(...batch)
    started.push(...batch)
  }
  const router = await spawnRouter([
    '--verify-model',
    model.path,
    '--data-dir',
    join(dir, 'router'),
    '--threads',
    '1',
    '--http',
    '127.0.0.1:0',
    ...providers.flatMap((p) => p.multiaddrs.flatMap((a) => ['--bootstrap', a])),
  ])
  started.push(router)
  // Discovery is not part of the soak: wait (bounded) until the router knows every provider.
  for (let i = 0; i < 300; i++) {
    const models = (await (await fetch(`${router.url}/v1/models`)).json()) as {
      data: Array<{ providers?: number }>
    }
    if ((models.data[0]?.providers ?? 0) >= PROVIDERS) break
    await new Promise((r) => setTimeout(r, 100))
  }

  const latency: number[] = []
  const overhead: number[] = []
  const perProvider = new Map<string, number>()
  const parts = new Map<string, number[]>()
  const failures = new Map<string, number>()
  let tokens = 0
  let next = 0
  const soakStarted = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++
        const t0 = performance.now()
        try {
          const res = await fetch(`${router.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'soak-tiny',
              messages: [{ role: 'user', content: `soak ${i}` }],
              max_tokens: TOKENS,
              temperature: 0.8,
              seed: i,
            }),
            signal: AbortSignal.timeout(120_000),
          })
          const body = (await res.json()) as {
            usage?: { completion_tokens: number }
            infraxa?: { provider: string; verdict: string; timings_ms: Record<string, number> }
            error?: { code?: string }
          }
          const t = performance.now() - t0
          if (res.status !== 200 || body.infraxa?.verdict !== 'verified') {
            const why = `HTTP ${res.status} ${body.error?.code ?? body.infraxa?.verdict ?? ''}`
            failures.set(why, (failures.get(why) ?? 0) + 1)
            continue
          }
          latency.push(t)
          const timings = body.infraxa.timings_ms
          for (const [k, v] of Object.entries(timings)) parts.set(k, [...(parts.get(k) ?? []), v])
          overhead.push(t - (timings.provider_prompt ?? 0) - (timings.provider_decode ?? 0))
          perProvider.set(body.infraxa.provider, (perProvider.get(body.infraxa.provider) ?? 0) + 1)
          tokens += body.usage?.completion_tokens ?? 0
        } catch (error) {
          const why = (error as Error).name
          failures.set(why, (failures.get(why) ?? 0) + 1)
        }
      }
    }),
  )
  const seconds = (performance.now() - soakStarted) / 1000
  const metrics = await (await fetch(`${router.url}/metrics`)).text()
  const penalties = [...metrics.matchAll(/^infraxa_reputation_events_total\{event="(\w+)"\} (\d+)/gm)]
    .filter((m) => m[1] !== 'success')
    .reduce((n, m) => n + Number(m[2]), 0)
  const failedVerdicts = Number(/^infraxa_jobs_total\{verdict="failed"\} (\d+)/m.exec(metrics)?.[1] ?? 0)
  const shares = [...perProvider.values()]
  const failed = [...failures.values()].reduce((a, b) => a + b, 0)

  console.log(
    `soak: ${REQUESTS} requests, ${CONCURRENCY} in flight, HTTP → 1 router process → ${PROVIDERS} provider processes (generated ${TINY_TEST_MODEL_CONFIG.dim}×${TINY_TEST_MODEL_CONFIG.layers} Q8_0, 1 thread each), ${TOKENS} tokens at T = 0.8, merkle audited; ${cpus().length} cores`,
  )
  console.log(
    '| ok | failed | req/s | tokens/s | latency p50 / p95 / p99 ms | router overhead p50 / p95 ms | share per provider max / min | penalties | failed verdicts |',
  )
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  console.log(
    `| ${latency.length} | ${failed}${failed > 0 ? ` (${[...failures].map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''} | ${(latency.length / seconds).toFixed(1)} | ${(tokens / seconds).toFixed(0)} | ${ms(quantile(latency, 0.5))} / ${ms(quantile(latency, 0.95))} / ${ms(quantile(latency, 0.99))} | ${ms(quantile(overhead, 0.5))} / ${ms(quantile(overhead, 0.95))} | ${Math.max(...shares)} / ${shares.length < PROVIDERS ? 0 : Math.min(...shares)} (${shares.length} of ${PROVIDERS} served) | ${penalties} | ${failedVerdicts} |`,
  )
  console.log(
    `where a request's time goes (receipt timings, ms p50 / p95): ${[...parts]
      .map(([k, v]) => `${k} ${ms(quantile(v, 0.5))} / ${ms(quantile(v, 0.95))}`)
      .join(', ')}`,
  )
  for (const s of started.splice(0).reverse()) await s.stop()

  // The batching gain of one provider's decoder: 8 answers at once with 1, 4 and 8 sequences.
  console.log('\none provider decoder, 8 answers of 64 tokens at once, 1 thread (sequences of one context)')
  console.log('| model | parallel | tokens/s | × parallel 1 |')
  console.log('| --- | --- | --- | --- |')
  let base = 0
  for (const parallel of [1, 4, 8]) {
    const engine = await loadModel({ path: model.path, threads: 1, contextSize: 256, parallel })
    const t0 = performance.now()
    await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) =>
          engine.generate({
            promptTokens: [1, 10 + i, 20 + i],
            maxTokens: 64,
            // Never end early: every answer is 64 tokens, so the rates compare.
            choose: (topK) => (topK.find((c) => !engine.isEndOfGeneration(c.id)) ?? topK[0]!).id,
          }).result,
      ),
    )
    const rate = (8 * 64) / ((performance.now() - t0) / 1000)
    if (parallel === 1) base = rate
    console.log(`| soak-tiny | ${parallel} | ${rate.toFixed(0)} | ${(rate / base).toFixed(2)} |`)
    await engine.dispose()
  }
} finally {
  for (const s of started.reverse()) await s.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true })
}
