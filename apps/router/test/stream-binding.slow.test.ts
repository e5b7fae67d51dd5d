import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createProvider, type DishonestBehaviour, type Provider } from '@infraxa/provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CompletionRequest } from '../src/http.js'
import { createRouter, type Router } from '../src/index.js'
import { nearTieForgery, randomTokenForgery } from './support/forgeries.js'
import { storiesPath, tempDir } from './support/index.js'

/**
 * What a client reads is what was verified: the router makes text from the token ids it received (never
 * a provider's text), requires the signed commitment to hold exactly the streamed tokens, and by default
 * releases streamed text only a chunk behind its own re-execution of those tokens.
 */
/** TEST DOUBLE forgery: near-tie swaps (logits nudged to fit) at the first two steps that allow one. */
function twoFlips(): NonNullable<DishonestBehaviour['forgeStep']> {
  let flips = 0
  const inner = nearTieForgery({ gap: 0.2 })
  return (t, topK, token) => {
    if (t === 0) flips = 0
    if (flips >= 2) return undefined
    const forged = inner(t, topK, token)
    if (forged) flips++
    return forged
  }
}

describe('streamed text is bound to verified tokens', () => {
  const dir = tempDir('stream-binding')
  const stopped: Array<{ stop(): Promise<void> }> = []
  const request = (change: Partial<CompletionRequest> = {}): CompletionRequest => ({
    model: 'stories260K',
    messages: [{ role: 'user', content: 'Once upon a time' }],
    maxTokens: 48,
    temperature: 0,
    seed: 0n,
    stop: [],
    verification: 'merkle',
    stream: true,
    streamMode: 'verified',
    ...change,
  })

  /** A provider (honest unless told) and a router that knows only it, with no probation. */
  async function pair(
    name: string,
    dishonest?: DishonestBehaviour,
    routerOptions: { stepwiseFollowUp?: boolean; maxAttempts?: number } = {},
  ): Promise<{ provider: Provider; router: Router }> {
    const provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, `${name}-provider`),
      threads: 1,
      ...(dishonest && { dishonest }),
    })
    stopped.push(provider)
    const router = await createRouter({
      dataDir: join(dir, `${name}-router`),
      http: false,
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      probationJobs: 0,
      maxAttempts: 1,
      ...routerOptions,
    })
    stopped.push(router)
    return { provider, router }
  }

  async function ask(router: Router, req: CompletionRequest) {
    const pieces: string[] = []
    const onText = req.stream ? (text: string) => pieces.push(text) : undefined
    try {
      const result = await router.api.complete(req, onText, new AbortController().signal)
      return { pieces, result, error: undefined }
    } catch (error) {
      return { pieces, result: undefined, error: error as Error }
    }
  }

  let honest: { provider: Provider; router: Router }
  let honestText: string
  beforeAll(async () => {
    honest = await pair('honest')
    const { result } = await ask(honest.router, request({ stream: false }))
    honestText = result!.text
  })
  afterAll(async () => {
    for (const s of stopped.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  it('honest, verified streaming: the pieces add up to the verified text; every token was checked', async () => {
    const { pieces, result } = await ask(honest.router, request())
    expect(result!.receipt.verdict).toBe('verified')
    expect(result!.receipt.streaming).toBe('verified')
    expect(pieces.join('')).toBe(result!.text)
    expect(result!.text).toBe(honestText)
    expect(result!.receipt.token_check).toMatchObject({ steps: result!.completionTokens, verdict: 'pass' })
    expect(pieces.length).toBeGreaterThan(1)
  })

  it('honest, live streaming at the client’s request: same text, and the receipt says live', async () => {
    const { pieces, result } = await ask(honest.router, request({ streamMode: 'live' }))
    expect(result!.receipt).toMatchObject({ verdict: 'verified', streaming: 'live' })
    expect(pieces.join('')).toBe(honestText)
  })

  const streamsOtherToken: DishonestBehaviour = {
    streamToken: (t, token) => (t === 5 ? (token + 1) % 512 : token),
  }

  it('a provider streaming a token it did not commit is caught before the client reads anything (verified)', async () => {
    const { router, provider } = await pair('streams-other', streamsOtherToken)
    const { pieces, error } = await ask(router, request())
    expect(error?.message).toMatch(/no provider produced a verified answer/)
    expect(pieces).toEqual([])
    expect(router.reputation.get(provider.peerId).banned).toBe(true)
  })

  it('the same provider is caught without streaming: the commitment must hold the streamed tokens', async () => {
    const { router, provider } = await pair('streams-other-held', streamsOtherToken)
    const { error } = await ask(router, request({ stream: false }))
    expect((error as { details?: string }).details).toMatch(/commits to other tokens than the \d+ streamed/)
    expect(router.reputation.get(provider.peerId).banned).toBe(true)
  })

  it('with live streaming the client read it, and then gets the failure; the receipt says live', async () => {
    const { router, provider } = await pair('streams-other-live', streamsOtherToken)
    const { pieces, error } = await ask(router, request({ streamMode: 'live' }))
    expect(pieces.length).toBeGreaterThan(0)
    expect(pieces.join('')).not.toBe(honestText)
    // Nobody else to resume on (one provider, one attempt): the client has what it read, and the failure.
    const details = String((error as { details?: string }).details)
    expect(details).toMatch(/failed verification \(the signed response commits to other tokens/)
    expect(router.reputation.get(provider.peerId).banned).toBe(true)
    const receiptId = /receipt ([0-9a-f]{32})/.exec(details)![1]!
    expect(router.api.receipt(receiptId)).toMatchObject({ verdict: 'failed', streaming: 'live' })
  })

  it('a token forged at step 20 (and committed): the client gets only the verified chunk before it', async () => {
    const forgeStep: DishonestBehaviour['forgeStep'] = (t, topK, token) =>
      t === 20 ? randomTokenForgery({ fraction: 1 })(t, topK, token) : undefined
    const { router, provider } = await pair('forges-20', { forgeStep })
    const { pieces, error } = await ask(router, request())
    expect(error).toBeDefined()
    // 16 tokens per verified chunk: the first chunk (steps 0–15) was released, nothing from 16 on.
    const released = pieces.join('')
    expect(released.length).toBeGreaterThan(0)
    expect(honestText.startsWith(released)).toBe(true)
    expect(router.reputation.get(provider.peerId).banned).toBe(true)
  })

  it('a provider failing after a verified chunk was sent: the retry elsewhere resumes, the client reads one whole verified answer', async () => {
    const forgeStep: DishonestBehaviour['forgeStep'] = (t, topK, token) =>
      t === 20 ? randomTokenForgery({ fraction: 1 })(t, topK, token) : undefined
    const { router, provider } = await pair('resume', { forgeStep }, { maxAttempts: 3 })
    const spare = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'resume-spare'),
      threads: 1,
    })
    stopped.push(spare)
    const pieces: string[] = []
    // The honest provider becomes known only once the cheat's first chunk reached the client.
    const result = await router.api.complete(
      request(),
      (text) => {
        if (pieces.length === 0) void router.node.connect(spare.node.multiaddrs[0]!)
        pieces.push(text)
      },
      new AbortController().signal,
    )
    expect(router.reputation.get(provider.peerId).banned).toBe(true)
    expect(result.receipt).toMatchObject({ verdict: 'verified', provider: spare.peerId, attempts: 2 })
    // What the client read, pieces from both attempts joined, is exactly the verified answer, once.
    expect(pieces.join('')).toBe(result.text)
    expect(result.text).toBe(honestText)
  })

  it('a response naming another build than the provider advertised fails (no looser class claimed late)', async () => {
    // Selected as the router's own build, the cheat then signs its response as another CPU build, whose
    // class would be judged more loosely here and in any later check of the receipt.
    const { router, provider } = await pair('late-build', { responseBuild: 'cpu-x64' })
    const { error } = await ask(router, request({ stream: false, maxTokens: 16 }))
    expect(String(error?.message) + String((error as { details?: string })?.details)).toMatch(
      /names another engine than the provider advertised/,
    )
    expect(router.reputation.get(provider.peerId).banned).toBe(true)
  })

  it('a grey per-token result (unusual, not damning) costs nothing but probation; the same cheat repeated is concluded across jobs', async () => {
    // Two near-tie flips (logits nudged to fit) in 32 tokens: on the prefill's noise alone more than
    // honest noise makes likely (p ≈ 5e-4), fewer than proof — as a router without the stepwise
    // follow-up judges them (with it they are proven: next test). Job after job they add up: the
    // provider's running total fails the sequential test (budget 10^-6 over all looks) within a few jobs.
    const { router, provider } = await pair('grey', { forgeStep: twoFlips() }, { stepwiseFollowUp: false })
    let grey = 0
    let concluded: Error | undefined
    for (let i = 0; i < 8 && concluded === undefined; i++) {
      const { result, error } = await ask(
        router,
        request({
          stream: false,
          maxTokens: 32,
          messages: [{ role: 'user', content: `Once upon a time ${i}` }],
        }),
      )
      if (error !== undefined) {
        concluded = error
        break
      }
      const check = result!.receipt.token_check!
      // Every token scored, not only those up to the last opened step.
      expect(check.steps).toBe(result!.completionTokens)
      if (check.verdict === 'grey') {
        grey++
        expect(router.reputation.events(provider.peerId)[0]).toMatchObject({ event: 'grey' })
        expect(router.reputation.get(provider.peerId).cleanJobs).toBe(0)
        // A grey job alone is no penalty.
        expect(router.reputation.get(provider.peerId).banned).toBe(false)
      }
    }
    expect(grey).toBeGreaterThan(0)
    expect(String(concluded?.message) + String((concluded as { details?: string })?.details)).toMatch(
      /across jobs: \d+ of \d+ tokens over its \d+ scored jobs/,
    )
    expect(router.reputation.get(provider.peerId).banned).toBe(true)
  })

  it('the same two flips are proven by the stepwise follow-up (bit-exact replay of the mismatching job)', async () => {
    const { router, provider } = await pair('stepwise', { forgeStep: twoFlips() })
    let failed = 0
    for (let i = 0; i < 5; i++) {
      const { result, error } = await ask(
        router,
        request({
          stream: i % 2 === 1,
          maxTokens: 32,
          messages: [{ role: 'user', content: `Once upon a time ${i}` }],
        }),
      )
      if (error !== undefined) {
        failed++
        // The follow-up of the mismatching tokens, or (when a nudged log-prob was opened and drifted
        // past the trigger) the stepwise audit of the opened steps: both bit-exact re-executions.
        expect(String(error.message) + String((error as { details?: string }).details)).toMatch(
          /stepwise (re-execution|audit)/,
        )
        router.reputation.pardon(provider.peerId, 'attack drill')
      } else {
        // A job whose flips the forgery could not place (no near-tie in its answer) is honest.
        expect(result!.receipt.token_check?.mismatches).toBe(0)
      }
    }
    expect(failed).toBeGreaterThan(0)
  })

  it('the receipt’s text is derived from the signed tokens', async () => {
    const { result } = await ask(honest.router, request({ stream: false, stop: ['.'] }))
    const receipt = honest.router.api.receipt(result!.receipt.receipt_id) as {
      response: { output_text: string }
    }
    expect(receipt.response.output_text).toBe(result!.text)
    expect(result!.text).not.toContain('.')
  })
})
