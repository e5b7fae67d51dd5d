/**
 * Router overhead: one router (this process, HTTP on loopback) and one provider process, sequential
 * chat completions over HTTP. Per request, the client's time minus the provider's own (queue + prompt +
 * decode), split into verification (audit replay after the stream + stream check), scheduling (waiting
 * for a provider with room), transport + signing (the rest of the router's time: tokenising, signing the
 * request, libp2p streams, checking the signed response, the receipt) and HTTP (client time − router time).
 * Warm: one router, after a warm-up request. Cold: a fresh router per request (new data dir, first
 * connection to the provider, first replay on its verify model).
 *
 * Usage: tsx bench/overhead.ts [--warm 30] [--cold 5] [--tokens 16]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createRouter } from '../src/index.js'
import { ms, quantile, spawnProvider } from './processes.js'

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    warm: { type: 'string', default: '30' },
    cold: { type: 'string', default: '5' },
    tokens: { type: 'string', default: '16' },
  },
})
const stories =
  process.env.INFRAXA_TEST_MODEL ?? resolve(import.meta.dirname, '../../../../shared/models/stories260K.gguf')

interface Split {
  overhead: number
  verification: number
  scheduling: number
  transport: number
  http: number
}

const dir = await mkdtemp(join(tmpdir(), 'infraxa-overhead-'))
const provider = await spawnProvider([
  '--model',
  stories,
  '--data-dir',
  join(dir, 'provider'),
  '--threads',
  '1',
])
let routers = 0

async function withRouter<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const router = await createRouter({
    dataDir: join(dir, `router-${routers++}`),
    http: '127.0.0.1:0',
    bootstrap: provider.multiaddrs,
    verifyModels: [{ path: stories }],
    threads: 1,
    probationJobs: 0,
  })
  try {
    // Discovery is not part of a request's overhead: wait until the provider is known.
    for (let i = 0; i < 200; i++) {
      const models = (await (await fetch(`${router.url}/v1/models`)).json()) as {
        data: Array<{ providers?: number }>
      }
      if (models.data.some((m) => (m.providers ?? 0) > 0)) break
      await new Promise((r) => setTimeout(r, 50))
    }
    return await fn(router.url!)
  } finally {
    await router.stop()
  }
}

async function request(url: string, i: number): Promise<Split> {
  const started = performance.now()
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'stories260K',
      messages: [{ role: 'user', content: `Once upon a time ${i}` }],
      max_tokens: Number(args.tokens),
      temperature: 0,
    }),
  })
  const body = (await res.json()) as { infraxa?: { timings_ms: Record<string, number> }; error?: unknown }
  const client = performance.now() - started
  if (res.status !== 200 || body.infraxa === undefined)
    throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`)
  const t = body.infraxa.timings_ms
  const providerMs = (t.provider_queue ?? 0) + t.provider_prompt! + t.provider_decode!
  const verification = t.verify! + (t.stream_check ?? 0)
  const scheduling = t.wait ?? 0
  return {
    overhead: client - providerMs,
    verification,
    scheduling,
    transport: t.total! - providerMs - verification - scheduling,
    http: client - t.total!,
  }
}

function row(label: string, splits: Split[]): string {
  const cell = (key: keyof Split) =>
    `${ms(
      quantile(
        splits.map((s) => s[key]),
        0.5,
      ),
    )} / ${ms(
      quantile(
        splits.map((s) => s[key]),
        0.95,
      ),
    )}`
  const excluding = splits.map((s) => s.overhead - s.verification)
  return `| ${label} | ${splits.length} | ${cell('overhead')} | ${cell('verification')} | ${cell('scheduling')} | ${cell('transport')} | ${cell('http')} | ${ms(quantile(excluding, 0.5))} / ${ms(quantile(excluding, 0.95))} |`
}

try {
  console.log(
    `router overhead: stories260K, ${args.tokens} greedy tokens, merkle (4 audited steps + per-token check), provider process with 1 thread; ms p50 / p95`,
  )
  console.log(
    '| run | requests | overhead (total − provider) | verification | scheduling | transport + signing | HTTP | overhead excl. verification |',
  )
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
  const warm = await withRouter(async (url) => {
    await request(url, -1)
    const out: Split[] = []
    for (let i = 0; i < Number(args.warm); i++) out.push(await request(url, i))
    return out
  })
  console.log(row('warm', warm))
  const cold: Split[] = []
  for (let i = 0; i < Number(args.cold); i++) cold.push(await withRouter((url) => request(url, 1000 + i)))
  console.log(row('cold (fresh router)', cold))
} finally {
  await provider.stop()
  await rm(dir, { recursive: true, force: true })
}
