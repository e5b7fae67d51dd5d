import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ProviderProcess, spawnProvider, spawnRouter } from '../bench/processes.js'
import { storiesPath, tempDir } from './support/index.js'

/**
 * The real apps as a user runs them: two `infraxa-provider` processes (stories260K, 4 sequences each,
 * batched) and one `infraxa-router` process, on loopback; 200 requests at once over HTTP.
 */
describe('through the real processes (HTTP → router → providers)', () => {
  const dir = tempDir('processes')
  const started: Array<{ stop(): Promise<void> }> = []
  let providers: ProviderProcess[]
  let url: string

  beforeAll(async () => {
    providers = await Promise.all(
      ['a', 'b'].map((name) =>
        spawnProvider([
          '--model',
          storiesPath(),
          '--data-dir',
          join(dir, name),
          '--threads',
          '1',
          '--parallel',
          '4',
        ]),
      ),
    )
    started.push(...providers)
    const router = await spawnRouter([
      '--verify-model',
      storiesPath(),
      '--data-dir',
      join(dir, 'router'),
      '--threads',
      '1',
      '--http',
      '127.0.0.1:0',
      ...providers.flatMap((p) => p.multiaddrs.flatMap((a) => ['--bootstrap', a])),
    ])
    started.push(router)
    url = router.url
  }, 120_000)
  afterAll(async () => {
    for (const s of started.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  it('200 concurrent requests to 2 batched providers: 0 failures, every answer verified, nobody penalised', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'stories260K',
            messages: [{ role: 'user', content: `Story ${i}` }],
            max_tokens: 24,
            temperature: 0.8,
            seed: i,
            stream: i % 2 === 0,
          }),
        })
        const text = await res.text()
        // A streamed answer's receipt is in its finish chunk.
        const body = res.headers.get('content-type')?.startsWith('text/event-stream')
          ? text
              .split('\n')
              .filter((l) => l.startsWith('data: {'))
              .map((l) => JSON.parse(l.slice(6)))
              .find((c) => c.infraxa)
          : JSON.parse(text)
        return { status: res.status, receipt: body?.infraxa as { verdict: string; provider: string } }
      }),
    )
    expect(results.filter((r) => r.status !== 200)).toEqual([])
    expect(results.filter((r) => r.receipt?.verdict !== 'verified')).toEqual([])
    const served = new Set(results.map((r) => r.receipt.provider))
    expect(served.size).toBe(2)
    const health = (await (await fetch(`${url}/health`)).json()) as {
      reputation: Array<{ peer_id: string; banned: boolean }>
    }
    expect(health.reputation.filter((r) => r.banned)).toEqual([])
    for (const p of providers) {
      const metrics = await (await fetch(`${p.metricsUrl}/metrics`)).text()
      expect(metrics).toMatch(/^infraxa_provider_max_sequences\{model="stories260K"\} 4$/m)
    }
  }, 300_000)

  it("past the router's queue bound: HTTP 429 with Retry-After, the rest answered and verified", async () => {
    const small = await spawnRouter([
      '--verify-model',
      storiesPath(),
      '--data-dir',
      join(dir, 'router-small'),
      '--threads',
      '1',
      '--http',
      '127.0.0.1:0',
      '--max-pending',
      '4',
      ...providers.flatMap((p) => p.multiaddrs.flatMap((a) => ['--bootstrap', a])),
    ])
    started.push(small)
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await fetch(`${small.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'stories260K',
            messages: [{ role: 'user', content: `Once upon a time ${i}` }],
            max_tokens: 16,
          }),
        })
        return {
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          json: (await res.json()) as any,
        }
      }),
    )
    const limited = results.filter((r) => r.status === 429)
    expect(limited.length).toBeGreaterThan(0)
    expect(Number(limited[0]!.retryAfter)).toBeGreaterThanOrEqual(1)
    for (const r of results.filter((r) => r.status !== 429)) {
      expect(r.status).toBe(200)
      expect(r.json.infraxa.verdict).toBe('verified')
    }
  })

  it('a client that disconnects frees its provider sequence: its job stops, the next queued job runs', async () => {
    const single = await spawnProvider([
      '--model',
      storiesPath(),
      '--data-dir',
      join(dir, 'single'),
      '--threads',
      '1',
      '--parallel',
      '1',
    ])
    started.push(single)
    const router = await spawnRouter([
      '--verify-model',
      storiesPath(),
      '--data-dir',
      join(dir, 'router-single'),
      '--threads',
      '1',
      '--http',
      '127.0.0.1:0',
      '--bootstrap',
      single.multiaddrs[0]!,
    ])
    started.push(router)
    const jobs = async () => {
      const text = await (
        await fetch(
          single.metricsUrl.endsWith('/metrics') ? single.metricsUrl : `${single.metricsUrl}/metrics`,
        )
      ).text()
      const count = (outcome: string) =>
        [
          ...text.matchAll(
            new RegExp(`^infraxa_provider_jobs_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`, 'gm'),
          ),
        ].reduce((n, m) => n + Number(m[1]), 0)
      return { served: count('served'), other: count('failed') + count('refused') }
    }
    const ask = (content: string, maxTokens: number, signal?: AbortSignal) =>
      fetch(`${router.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        ...(signal && { signal }),
        body: JSON.stringify({
          model: 'stories260K',
          messages: [{ role: 'user', content }],
          max_tokens: maxTokens,
          stop: [],
        }),
      })
    await (await ask('warm up', 4)).json()
    const before = await jobs()
    const long = new AbortController()
    const first = ask('Once upon a time there was a long story', 400, long.signal).catch((e) => e as Error)
    await new Promise((r) => setTimeout(r, 300))
    const second = ask('Once upon a time', 8)
    await new Promise((r) => setTimeout(r, 50))
    long.abort()
    expect(await first).toBeInstanceOf(Error)
    const res = await second
    expect(res.status).toBe(200)
    expect(((await res.json()) as any).infraxa.verdict).toBe('verified')
    // The abandoned job ended without being served (it stopped); the queued one was served.
    const after = await jobs()
    expect(after.served - before.served).toBe(1)
    expect(after.other - before.other).toBe(1)
  })
})
