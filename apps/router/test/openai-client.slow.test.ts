import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createProvider, type Provider } from '@infraxa/provider'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { storiesPath, tempDir } from './support/index.js'

// The official OpenAI client against a router and a provider on loopback (stories260K).
describe('the official openai client', () => {
  const dir = tempDir('openai')
  let provider: Provider
  let router: Router
  let client: OpenAI

  beforeAll(async () => {
    provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'provider'),
      threads: 1,
      // A provider limit below the model's context: the router must refuse before dispatch.
      limits: { maxPromptTokens: 400, maxOutputTokens: 256 },
    })
    router = await createRouter({
      dataDir: join(dir, 'router'),
      http: '127.0.0.1:0',
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
    })
    client = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: 'unused', maxRetries: 0 })
  }, 120_000)
  afterAll(async () => {
    await router?.stop()
    await provider?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const messages = [{ role: 'user' as const, content: 'Once upon a time' }]

  it('n: several choices, each its own verified job, with usage summed', async () => {
    const r = await client.chat.completions.create({
      model: 'stories260K',
      messages,
      n: 3,
      max_tokens: 16,
      temperature: 1,
      seed: 7,
    })
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2])
    const receipts = r.choices.map(
      (c) => (c as unknown as { infraxa: { verdict: string; seed: string; receipt_id: string } }).infraxa,
    )
    expect(receipts.map((x) => x.verdict)).toEqual(['verified', 'verified', 'verified'])
    expect(receipts.map((x) => x.seed)).toEqual(['7', '8', '9'])
    expect(new Set(receipts.map((x) => x.receipt_id)).size).toBe(3)
    expect(r.system_fingerprint).toMatch(/_seed7$/)
    expect(r.usage?.completion_tokens).toBeGreaterThan(3)
    expect(r.usage?.total_tokens).toBe((r.usage?.prompt_tokens ?? 0) + (r.usage?.completion_tokens ?? 0))
    // Choice 0 is the n = 1 answer of the same seed.
    const one = await client.chat.completions.create({
      model: 'stories260K',
      messages,
      max_tokens: 16,
      seed: 7,
    })
    expect(one.choices[0]!.message.content).toBe(r.choices[0]!.message.content)
  })

  it('content parts, as SDKs send them: the same answer as the joined text', async () => {
    const parts = await client.chat.completions.create({
      model: 'stories260K',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Once upon' },
            { type: 'text', text: 'a time' },
          ],
        },
      ],
      max_tokens: 12,
      temperature: 0,
    })
    const text = await client.chat.completions.create({
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once upon\na time' }],
      max_tokens: 12,
      temperature: 0,
    })
    expect((parts as unknown as { infraxa: { verdict: string } }).infraxa.verdict).toBe('verified')
    expect(parts.choices[0]!.message.content).toBe(text.choices[0]!.message.content)
  })

  it('logprobs: per token, from the router’s re-execution, adding up to the text', async () => {
    const r = await client.chat.completions.create({
      model: 'stories260K',
      messages,
      max_tokens: 16,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    })
    const content = r.choices[0]!.logprobs!.content!
    expect(content.length).toBeGreaterThan(0)
    expect(content.map((t) => t.token).join('')).toBe(r.choices[0]!.message.content)
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0)
      expect(t.top_logprobs).toHaveLength(3)
      // Greedy: the chosen token is the most likely one.
      expect(t.top_logprobs[0]!.token).toBe(t.token)
      expect(t.top_logprobs[0]!.logprob).toBeCloseTo(t.logprob, 6)
      expect(Buffer.from(t.bytes!).toString('utf8')).toBe(t.token)
    }
  })

  it('stream with include_usage: text chunks, a finish chunk per choice, then usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'stories260K',
      messages,
      max_tokens: 16,
      temperature: 0.7,
      seed: 3,
      n: 2,
      stream: true,
      stream_options: { include_usage: true },
    })
    const text = ['', '']
    const finished: string[] = []
    let usage: OpenAI.CompletionUsage | undefined | null
    const ids = new Set<string>()
    const receipts = new Set<string>()
    for await (const chunk of stream) {
      ids.add(chunk.id)
      for (const c of chunk.choices) {
        text[c.index] += c.delta.content ?? ''
        if (c.finish_reason) finished.push(c.finish_reason)
      }
      const receipt = (chunk as { infraxa?: { receipt_id: string } }).infraxa?.receipt_id
      if (receipt) receipts.add(receipt)
      if (chunk.usage) usage = chunk.usage
    }
    // One id for the whole stream, as OpenAI's; each choice's last chunk names its own receipt.
    expect(ids.size).toBe(1)
    expect([...ids][0]).toMatch(/^chatcmpl-[0-9a-f]{24}$/)
    expect(receipts.size).toBe(2)
    expect(finished).toHaveLength(2)
    expect(text[0]!.length).toBeGreaterThan(0)
    expect(usage?.completion_tokens).toBeGreaterThan(0)
    const plain = await client.chat.completions.create({
      model: 'stories260K',
      messages,
      max_tokens: 16,
      temperature: 0.7,
      seed: 4,
    })
    expect(text[1]).toBe(plain.choices[0]!.message.content)
  })

  it('top_p: nucleus sampling, verified, signed in the receipt', async () => {
    const r = await client.chat.completions.create({
      model: 'stories260K',
      messages,
      max_tokens: 16,
      temperature: 1,
      top_p: 0.8,
      seed: 21,
    })
    const receipt = (r as unknown as { infraxa: { verdict: string; receipt_id: string } }).infraxa
    expect(receipt.verdict).toBe('verified')
    const stored = (await (await fetch(`${router.url}/v1/receipts/${receipt.receipt_id}`)).json()) as any
    expect(stored.request.top_p).toBeCloseTo(0.8, 6)
    const bad = await client.chat.completions
      .create({ model: 'stories260K', messages, top_p: 7 })
      .catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>)
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('top_p')
  })

  it('a refused parameter surfaces as a 400 naming it, with the reason', async () => {
    const error = await client.chat.completions
      .create({ model: 'stories260K', messages, max_tokens: 8, frequency_penalty: 0.5 })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    const bad = error as InstanceType<typeof OpenAI.BadRequestError>
    expect(bad.status).toBe(400)
    expect(bad.param).toBe('frequency_penalty')
    expect(bad.type).toBe('invalid_request_error')
    expect(bad.message).toMatch(/frequency_penalty.*not supported/)
  })

  it('limits are checked before dispatch: 400 context_length_exceeded and 413 JSON, nobody penalised', async () => {
    const served = provider.jobsServed
    // Over the provider's published prompt limit (400 tokens), inside the model's context.
    const long = await client.chat.completions
      .create({
        model: 'stories260K',
        messages: [{ role: 'user', content: 'word '.repeat(300) }],
        max_tokens: 8,
      })
      .catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>)
    expect(long).toBeInstanceOf(OpenAI.BadRequestError)
    expect((long as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('context_length_exceeded')
    // A 200 kB prompt: 400 (the body is under 1 MiB), not 503.
    const huge = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'stories260K',
        messages: [{ role: 'user', content: 'a '.repeat(100_000) }],
      }),
    })
    expect(huge.status).toBe(400)
    expect(((await huge.json()) as { error: { code: string } }).error.code).toBe('context_length_exceeded')
    // 30 MB: a 413 with a JSON error, not a reset connection.
    const big = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(30 * 1024 * 1024),
    })
    expect(big.status).toBe(413)
    expect(((await big.json()) as { error: { code: string; type: string } }).error).toMatchObject({
      code: 'ERR_PAYLOAD_TOO_LARGE',
      type: 'invalid_request_error',
    })
    // Too many output tokens for the provider's limit (256).
    const r = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stories260K', messages, max_tokens: 300 }),
    })
    expect(r.status).toBe(400)
    expect(((await r.json()) as { error: { param: string } }).error.param).toBe('max_tokens')
    expect(provider.jobsServed).toBe(served)
    expect(router.reputation.events(provider.peerId).filter((e) => e.event !== 'success')).toEqual([])
  })
  describe('legacy text completions (POST /v1/completions)', () => {
    const prompt = 'Once upon a time, there was a little'

    it('answers with a verified cmpl- completion of the raw prompt; echo and the receipt say which prompt', async () => {
      const r = await client.completions.create({
        model: 'stories260K',
        prompt,
        max_tokens: 16,
        temperature: 0,
      })
      expect(r.object).toBe('text_completion')
      expect(r.id).toMatch(/^cmpl-[0-9a-f]+$/)
      const receipt = (r as unknown as { infraxa: { verdict: string; receipt_id: string } }).infraxa
      expect(receipt.verdict).toBe('verified')
      const text = r.choices[0]!.text
      expect(text.length).toBeGreaterThan(0)
      expect(r.usage?.completion_tokens).toBeGreaterThan(0)
      // The raw prompt (BOS + text) is a few tokens; the chat template would add its own.
      expect(r.usage?.prompt_tokens).toBeLessThan(16)
      // The signed receipt holds the prompt, not messages; its id resolves with the cmpl- prefix.
      const stored = (await (await fetch(`${router.url}/v1/receipts/${r.id}`)).json()) as any
      expect(stored.request).toMatchObject({ prompt, messages: [] })
      expect(stored.response.output_text).toBe(text)
      // echo: the same answer (greedy) after the prompt.
      const echoed = await client.completions.create({
        model: 'stories260K',
        prompt,
        max_tokens: 16,
        temperature: 0,
        echo: true,
      })
      expect(echoed.choices[0]!.text).toBe(prompt + text)
    })

    it('logprobs, n and stream with include_usage', async () => {
      const r = await client.completions.create({
        model: 'stories260K',
        prompt,
        max_tokens: 12,
        temperature: 0,
        logprobs: 2,
      })
      const lp = r.choices[0]!.logprobs!
      expect(lp.tokens!.join('')).toBe(r.choices[0]!.text)
      expect(lp.token_logprobs!.every((x) => x <= 0)).toBe(true)
      expect(lp.text_offset![0]).toBe(0)
      // Greedy: each token is its own most likely alternative.
      lp.top_logprobs!.forEach((alts, i) => {
        expect(Object.keys(alts!)).toHaveLength(2)
        expect(alts![lp.tokens![i]!]).toBeCloseTo(lp.token_logprobs![i]!, 6)
      })
      const stream = await client.completions.create({
        model: 'stories260K',
        prompt,
        max_tokens: 12,
        temperature: 0.8,
        seed: 11,
        n: 2,
        stream: true,
        stream_options: { include_usage: true },
      })
      const text = ['', '']
      let finished = 0
      let usage: OpenAI.CompletionUsage | undefined | null
      for await (const chunk of stream) {
        expect(chunk.object).toBe('text_completion')
        for (const c of chunk.choices) {
          text[c.index] += c.text
          if (c.finish_reason) finished++
        }
        if (chunk.usage) usage = chunk.usage
      }
      expect(finished).toBe(2)
      expect(usage?.completion_tokens).toBeGreaterThan(0)
      // Choice 1 streamed is the seed + 1 answer asked for plainly.
      const plain = await client.completions.create({
        model: 'stories260K',
        prompt,
        max_tokens: 12,
        temperature: 0.8,
        seed: 12,
      })
      expect(text[1]).toBe(plain.choices[0]!.text)
    })

    it('refuses what it cannot honour with a 400 naming the parameter', async () => {
      const suffix = await client.completions
        .create({ model: 'stories260K', prompt, suffix: ' The end.' })
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>)
      expect(suffix).toBeInstanceOf(OpenAI.BadRequestError)
      expect((suffix as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('suffix')
      const tokens = await client.completions
        .create({ model: 'stories260K', prompt: [1, 2, 3] })
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>)
      expect((tokens as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('prompt')
      const long = await client.completions
        .create({ model: 'stories260K', prompt: 'word '.repeat(300), max_tokens: 8 })
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>)
      expect(long).toBeInstanceOf(OpenAI.BadRequestError)
      expect((long as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('context_length_exceeded')
      expect((long as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('prompt')
    })
  })
})
