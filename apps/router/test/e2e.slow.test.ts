import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { main as cli } from '@infraxa/cli'
import { createProvider, type Provider } from '@infraxa/provider'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { chat, generatedModel, storiesPath, tempDir } from './support/index.js'

describe('provider + router + client end to end (loopback, real models)', () => {
  const dir = tempDir('e2e')
  let a: Provider
  let b: Provider
  let router: Router
  let generated: string

  beforeAll(async () => {
    generated = await generatedModel(dir, 7)
    a = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'a'),
      threads: 1,
    })
    b = await createProvider({
      models: [{ path: generated, name: 'generated' }],
      dataDir: join(dir, 'b'),
      threads: 1,
    })
    router = await createRouter({
      dataDir: join(dir, 'router'),
      http: '127.0.0.1:0',
      bootstrap: [...a.node.multiaddrs, ...b.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }, { path: generated }],
      threads: 1,
    })
  })

  afterAll(async () => {
    await router?.stop()
    await a?.stop()
    await b?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('lists both models with their hashes', async () => {
    const models = (await (await fetch(`${router.url}/v1/models`)).json()) as any
    expect(models.object).toBe('list')
    const byHash = Object.fromEntries(models.data.map((m: any) => [m.infraxa.model_hash, m]))
    expect(byHash[a.models[0]!.hashHex].infraxa.providers).toBe(1)
    expect(byHash[b.models[0]!.hashHex].infraxa.verifiable).toBe(true)
  })

  it('answers each model over HTTP with a verified, retrievable receipt', async () => {
    for (const [model, provider] of [
      ['stories260K', a],
      ['generated', b],
    ] as const) {
      const { status, json } = await chat(router.url!, {
        model,
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 24,
      })
      expect(status).toBe(200)
      expect(json.object).toBe('chat.completion')
      expect(json.choices[0].message.content.length).toBeGreaterThan(0)
      expect(json.usage.completion_tokens).toBeGreaterThan(0)
      expect(json.infraxa).toMatchObject({
        verdict: 'verified',
        verification: 'merkle',
        provider: provider.peerId,
        audited_steps: 4,
      })
      const receipt = (await (
        await fetch(`${router.url}/v1/receipts/${json.infraxa.receipt_id}`)
      ).json()) as any
      expect(receipt.verdict).toBe('verified')
      expect(receipt.response.output_text).toBe(json.choices[0].message.content)
      expect(receipt.audit.steps).toHaveLength(4)
      expect(receipt.envelopes.audit_proof.length).toBeGreaterThan(100)
    }
  })

  it('takes a model by its hash or a prefix of 8+ hex digits of it, as git takes commits', async () => {
    const hash = a.models[0]!.hashHex
    for (const model of [hash, hash.slice(0, 8).toUpperCase(), hash.slice(0, 20)]) {
      const { status, json } = await chat(router.url!, {
        model,
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 4,
      })
      expect(status, model).toBe(200)
      expect(json.infraxa.model_hash).toBe(hash)
    }
    // Shorter than 8 digits is not taken as a hash.
    const short = await chat(router.url!, {
      model: hash.slice(0, 7),
      messages: [{ role: 'user', content: 'x' }],
    })
    expect(short.status).toBe(404)
    expect(short.json.error.code).toBe('ERR_UNKNOWN_MODEL')
  })

  it('is reproducible: the same greedy request gives the same answer', async () => {
    const body = {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'The dog' }],
      max_tokens: 20,
      temperature: 0,
    }
    const first = await chat(router.url!, body)
    const second = await chat(router.url!, body)
    expect(second.json.choices[0].message.content).toBe(first.json.choices[0].message.content)
    expect(second.json.infraxa.receipt_id).not.toBe(first.json.infraxa.receipt_id)
  })

  it('streams through SSE the way OpenAI clients expect', async () => {
    const res = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'stories260K',
        messages: [{ role: 'user', content: 'A cat' }],
        max_tokens: 24,
        stream: true,
      }),
    })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const text = await res.text()
    const events = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => e.slice(6))
    expect(events.at(-1)).toBe('[DONE]')
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e))
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true)
    const content = chunks.map((c) => c.choices[0].delta.content ?? '').join('')
    const last = chunks.at(-1)
    expect(last.choices[0].finish_reason).toBeTruthy()
    expect(last.infraxa.verdict).toBe('verified')
    const receipt = (await (
      await fetch(`${router.url}/v1/receipts/${last.infraxa.receipt_id}`)
    ).json()) as any
    expect(content).toBe(receipt.response.output_text)
  })

  it('answers through the CLI with a printed receipt', async () => {
    const out: string[] = []
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
      out.push(String(chunk))
      return true
    })
    try {
      const code = await cli([
        '--router',
        router.url!,
        '--model',
        'stories260K',
        '--prompt',
        'What is 2+2?',
        '--max-tokens',
        '16',
      ])
      expect(code).toBe(0)
    } finally {
      spy.mockRestore()
    }
    const printed = out.join('')
    expect(printed).toMatch(/verdict:\s+verified \[merkle\]/)
    expect(printed).toContain(a.peerId)
    const jsonOut: string[] = []
    const spy2 = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => {
      jsonOut.push(String(chunk))
      return true
    })
    try {
      expect(
        await cli([
          '--router',
          router.url!,
          '--model',
          'generated',
          '--prompt',
          'hi',
          '--json',
          '--max-tokens',
          '8',
        ]),
      ).toBe(0)
    } finally {
      spy2.mockRestore()
    }
    expect(JSON.parse(jsonOut.join('')).receipt.verdict).toBe('verified')
  })

  it('answers bad HTTP input with 4xx JSON errors and keeps serving', async () => {
    const post = (body: string) =>
      fetch(`${router.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
    const cases: Array<[string, number, string]> = [
      ['{not json', 400, 'ERR_BAD_REQUEST'],
      ['[]', 400, 'ERR_BAD_REQUEST'],
      [JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }), 400, 'ERR_BAD_REQUEST'],
      [JSON.stringify({ model: 'stories260K', messages: [] }), 400, 'ERR_BAD_REQUEST'],
      [
        JSON.stringify({ model: 'stories260K', messages: [{ role: 'wizard', content: 'x' }] }),
        400,
        'ERR_BAD_REQUEST',
      ],
      [
        JSON.stringify({ model: 'stories260K', messages: [{ role: 'user', content: 'x' }], max_tokens: 1e9 }),
        400,
        'ERR_BAD_REQUEST',
      ],
      [
        JSON.stringify({ model: 'stories260K', messages: [{ role: 'user', content: 'x' }], temperature: -1 }),
        400,
        'ERR_BAD_REQUEST',
      ],
      [
        JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
        404,
        'ERR_UNKNOWN_MODEL',
      ],
      [
        JSON.stringify({
          model: 'stories260K',
          messages: [{ role: 'user', content: 'x' }],
          verification: 'magic',
        }),
        400,
        'ERR_BAD_REQUEST',
      ],
      ['x'.repeat(2 * 1024 * 1024), 413, 'ERR_PAYLOAD_TOO_LARGE'],
    ]
    for (const [body, status, code] of cases) {
      const res = await post(body)
      expect(res.status, body.slice(0, 60)).toBe(status)
      expect(((await res.json()) as any).error.code).toBe(code)
    }
    const magic = await post(
      JSON.stringify({
        model: 'stories260K',
        messages: [{ role: 'user', content: 'x' }],
        verification: 'magic',
      }),
    )
    expect(((await magic.json()) as any).error.param).toBe('verification')
    expect((await fetch(`${router.url}/v1/chat/completions`)).status).toBe(405)
    expect((await fetch(`${router.url}/nope`)).status).toBe(404)
    expect((await fetch(`${router.url}/v1/receipts/deadbeef`)).status).toBe(404)
    const health = (await (await fetch(`${router.url}/health`)).json()) as any
    expect(health.status).toBe('ok')
    const metrics = await (await fetch(`${router.url}/metrics`)).text()
    expect(metrics).toMatch(/infraxa_jobs_total\{verdict="verified"\} \d+/)
    // Requests the router refused (unknown model, unknown mode) are counted too, not only verdicts.
    expect(metrics).toMatch(/infraxa_requests_total\{outcome="refused"\} [1-9]/)
  })

  it('a prompt larger than the model context is refused with a 400 before any provider is asked', async () => {
    const { status, json } = await chat(router.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'word '.repeat(3000) }],
      max_tokens: 8,
    })
    expect(status).toBe(400)
    expect(json.error).toMatchObject({
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    })
    expect(json.error.message).toMatch(/maximum context length is \d+ tokens/)
  })
})

describe('zk_snark mode end to end', () => {
  const dir = tempDir('zk')
  let provider: Provider
  let router: Router
  beforeAll(async () => {
    provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'p'),
      threads: 1,
    })
    router = await createRouter({
      dataDir: join(dir, 'router'),
      http: '127.0.0.1:0',
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
  })
  afterAll(async () => {
    await router?.stop()
    await provider?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers greedy requests with Groth16 proofs of the committed transcript, verified by the router, plus an audit', async () => {
    const { status, json } = await chat(router.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 20,
      temperature: 0,
      verification: 'zk_snark',
    })
    expect(status).toBe(200)
    expect(json.infraxa).toMatchObject({ verdict: 'verified', verification: 'zk_snark', audited_steps: 4 })
    const receipt = (await (
      await fetch(`${router.url}/v1/receipts/${json.infraxa.receipt_id}`)
    ).json()) as any
    expect(receipt.verification).toBe('zk_snark')
    expect(receipt.verdict).toBe('verified')
  })

  it('mixed answer: a provider that commits one set of steps to the SHA-256 root and another to the zk root is caught by the audit', async () => {
    // TEST DOUBLE (attack): the Poseidon root, the Groth16 proofs and the audit's Poseidon openings are all
    // of other steps — still greedy (a non-chosen candidate's log-prob lowered by one quantum), so the zk
    // proof alone verifies; the SHA-256 transcript the audit re-executes is the honest one.
    const mixed = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'mixed'),
      threads: 1,
      dishonest: {
        zkSteps: (steps) =>
          steps.map((s) => ({
            ...s,
            topLogprobs: s.topLogprobs.map((l, i) => (i === s.topLogprobs.length - 1 ? l - 1 : l)),
          })),
      },
    })
    const only = await createRouter({
      dataDir: join(dir, 'router-mixed'),
      http: '127.0.0.1:0',
      bootstrap: mixed.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      maxAttempts: 1,
    })
    try {
      const { status, json } = await chat(only.url!, {
        model: 'stories260K',
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 20,
        temperature: 0,
        verification: 'zk_snark',
      })
      expect(status).toBe(503)
      expect(json.error.message).toMatch(/the zk proof and the audited transcript commit to different steps/)
      expect(only.reputation.get(mixed.peerId).banned).toBe(true)
    } finally {
      await only.stop()
      await mixed.stop()
    }
  })

  it('answers sampled requests (temperature 0.7) with proofs of the poseidon-gumbel rule, verified by the router, plus an audit', async () => {
    const ask = (seed: number) =>
      chat(router.url!, {
        model: 'stories260K',
        messages: [{ role: 'user', content: 'Once' }],
        max_tokens: 12,
        temperature: 0.7,
        seed,
        verification: 'zk_snark',
      })
    const { status, json } = await ask(3)
    expect(status, JSON.stringify(json.error)).toBe(200)
    expect(json.infraxa).toMatchObject({ verdict: 'verified', verification: 'zk_snark' })
    // Seeded: the same seed, the same answer; the router recomputed and the circuit proved the rule.
    const again = await ask(3)
    expect(again.json.choices[0].message.content).toBe(json.choices[0].message.content)
  })

  it('refuses top_p with zk_snark (not part of the proved rule) with a clear error', async () => {
    const { status, json } = await chat(router.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once' }],
      max_tokens: 8,
      temperature: 0.7,
      top_p: 0.9,
      verification: 'zk_snark',
    })
    expect(status).toBe(400)
    expect(json.error.message).toMatch(/without top_p/)
  })
})
