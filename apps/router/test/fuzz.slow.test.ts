import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createNode, type InfraxaNode } from '@infraxa/p2p'
import { createAuditChallenge, vrfPublicKey } from '@infraxa/proofs/audit'
import {
  AuditChallengeSchema,
  create,
  decodeEnvelope,
  decodeMessage,
  encodeEnvelope,
  FraudProofSchema,
  InferenceRequestSchema,
  InfraxaError,
  type MessageInitShape,
  openEnvelope,
  PROTOCOL_IDS,
  RemoteError,
  type SignedEnvelope,
  signEnvelope,
} from '@infraxa/protocol'
import { createProvider, type Provider } from '@infraxa/provider'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { chat, storiesPath, tempDir } from './support/index.js'

/**
 * Every protocol handler (inference, audit and capabilities on a provider, fraud proofs on a router) and
 * the router's HTTP parser under generated and mutated input from fast-check, with a real provider and a
 * real router on loopback: random bytes, valid signed messages with bytes flipped, cut short or grown,
 * and valid messages with one field set to an edge value and signed again (so they pass the signature and
 * reach the handler's own checks). Every input must end in frames or a typed error within its deadline
 * (0 crashes, 0 hangs), while an honest client keeps getting verified answers through the router.
 * `INFRAXA_FUZZ_RUNS` is the total number of inputs (`pnpm test` 10,000; `pnpm test:fuzz` 100,000).
 */
const RUNS = Number(process.env.INFRAXA_FUZZ_RUNS ?? 10_000)
/** Inputs per target: four p2p protocols and HTTP share the runs. */
const PER_TARGET = Math.ceil(RUNS / 5)
/** No input may take longer than this to end (a hang otherwise). */
const INPUT_DEADLINE_MS = 20_000
/** An honest completion through the router every this many inputs. */
const HONEST_EVERY = 500
/** V8's collector, to read the heap after a full collection (memory held, not garbage not yet swept). */
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void
const heapAfterGc = () => {
  collect()
  return process.memoryUsage().heapUsed
}

/** How an input ended: `crash` is an untyped error (ERR_INTERNAL from a handler, HTTP 500, a non-Infraxa throw). */
type Outcome = 'frames' | 'closed' | `remote ${string}` | `local ${string}` | 'crash' | 'hang'

describe('fuzzing: protocol handlers and the HTTP parser', () => {
  const dir = tempDir('fuzz')
  let provider: Provider
  let router: Router
  let attacker: InfraxaNode
  const vrfSecret = new Uint8Array(randomBytes(32))
  const seeds = {} as {
    request: SignedEnvelope
    response: SignedEnvelope
    challenge: SignedEnvelope
    fraudProof: SignedEnvelope
  }
  const tally = new Map<string, Map<Outcome, number>>()
  const honest = { asked: 0, verified: 0, latenciesMs: [] as number[] }
  let rssBefore = 0
  let heapBefore = 0
  /** The seed request's fields (plain, so edge values can replace any of them). */
  let requestInit: MessageInitShape<typeof InferenceRequestSchema>

  beforeAll(async () => {
    provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'provider'),
      threads: 1,
      limits: { maxConcurrentJobs: 2, maxOutputTokens: 64 },
    })
    router = await createRouter({
      dataDir: join(dir, 'router'),
      http: '127.0.0.1:0',
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      probationJobs: 0,
    })
    attacker = await createNode({ dht: false })
    await attacker.connect(provider.node.multiaddrs[0]!)
    await attacker.connect(router.node.multiaddrs[0]!)
    // Seeds: a real job of the attacker (a valid client), its audit and a (false) fraud proof over it.
    requestInit = {
      jobId: new Uint8Array(randomBytes(16)),
      modelHash: provider.models[0]!.hash,
      messages: [{ role: 'user', content: 'Once upon a time' }],
      sampling: { temperature: 0, seed: 1n, maxTokens: 4, stop: [] },
      commitTopK: 8,
      verificationMode: 'merkle',
      routerNonce: new Uint8Array(randomBytes(32)),
      deadlineMs: BigInt(Date.now() + 3_600_000),
      providerPublicKey: provider.publicKey,
      vrfPublicKey: vrfPublicKey(vrfSecret),
    }
    seeds.request = signEnvelope(
      'INFERENCE_REQUEST',
      create(InferenceRequestSchema, requestInit),
      attacker.signer,
    )
    for await (const frame of attacker.requestStream(
      provider.peerId,
      PROTOCOL_IDS.inference,
      encodeEnvelope(seeds.request),
    )) {
      const decoded = decodeMessage('INFERENCE_FRAME', frame).frame
      if (decoded.case === 'response') seeds.response = decoded.value
    }
    const { message: response } = openEnvelope('INFERENCE_RESPONSE', seeds.response)
    const challenge = createAuditChallenge({
      vrfSecretKey: vrfSecret,
      jobId: response.jobId,
      root: response.transcriptRoot,
      stepCount: response.stepCount,
      c: 2,
    })
    seeds.challenge = signEnvelope(
      'AUDIT_CHALLENGE',
      create(AuditChallengeSchema, {
        jobId: response.jobId,
        transcriptRoot: response.transcriptRoot,
        ...challenge,
      }),
      attacker.signer,
    )
    const proof = openEnvelope(
      'AUDIT_PROOF',
      decodeEnvelope(
        await attacker.request(provider.peerId, PROTOCOL_IDS.audit, encodeEnvelope(seeds.challenge)),
      ),
    ).message
    seeds.fraudProof = signEnvelope(
      'FRAUD_PROOF',
      create(FraudProofSchema, {
        request: seeds.request,
        response: seeds.response,
        opening: proof.openings[0]!,
        siblings: proof.siblings,
        recomputed: proof.openings[0]!,
        bond: 0n,
      }),
      attacker.signer,
    )
    rssBefore = process.memoryUsage().rss
    heapBefore = heapAfterGc()
  }, 120_000)

  afterAll(async () => {
    await attacker?.stop().catch(() => {})
    await router?.stop().catch(() => {})
    await provider?.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
    const rssGrowthMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20
    const heapGrowthMiB = (heapAfterGc() - heapBefore) / 2 ** 20
    const sorted = [...honest.latenciesMs].sort((a, b) => a - b)
    const q = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN
    console.log(`\nfuzzing, ${RUNS} inputs in all (${PER_TARGET} per target); outcomes per target:`)
    for (const [target, outcomes] of tally) {
      const parts = [...outcomes].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} ${n}`)
      console.log(`  ${target}: ${parts.join(', ')}`)
    }
    console.log(
      `  honest client during fuzzing: ${honest.verified} / ${honest.asked} verified, latency p50 ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms; test process (provider, router and fuzzer) heap after GC +${heapGrowthMiB.toFixed(1)} MiB, RSS +${rssGrowthMiB.toFixed(0)} MiB`,
    )
  }, 60_000)

  function count(target: string, outcome: Outcome): void {
    const outcomes = tally.get(target) ?? new Map<Outcome, number>()
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    tally.set(target, outcomes)
  }

  /** One honest verified completion through the router's HTTP API (the well-behaved peer). */
  async function honestClient(): Promise<void> {
    honest.asked++
    const started = performance.now()
    const { status, json } = await chat(router.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: `Once upon a time ${honest.asked}` }],
      max_tokens: 8,
      temperature: 0,
    })
    honest.latenciesMs.push(performance.now() - started)
    if (status === 200 && json.infraxa?.verdict === 'verified') honest.verified++
  }

  /** Sends one input on `protocol` and classifies how it ended; never throws. */
  async function send(protocol: string, peer: string, bytes: Uint8Array, from = attacker): Promise<Outcome> {
    const signal = AbortSignal.timeout(INPUT_DEADLINE_MS)
    try {
      let frames = 0
      for await (const _ of from.requestStream(peer, protocol, bytes, {
        signal,
        readTimeoutMs: INPUT_DEADLINE_MS,
      }))
        frames++
      return frames > 0 ? 'frames' : 'closed'
    } catch (error) {
      if (signal.aborted) return 'hang'
      // ERR_INTERNAL is how a handler's untyped exception reaches the peer: a crash of that handler.
      if (error instanceof RemoteError)
        return error.code === 'ERR_INTERNAL' ? 'crash' : `remote ${error.code}`
      if (error instanceof InfraxaError) return `local ${error.code}`
      return 'crash'
    }
  }

  // --- input generators -------------------------------------------------------------------------------

  /** Byte-level mutations of a valid encoding: flips, a cut, a grown tail, a spliced range. */
  const mutatedBytes = (seed: () => Uint8Array) =>
    fc
      .record({
        flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }),
        cut: fc.option(fc.nat(), { nil: undefined }),
        tail: fc.uint8Array({ maxLength: 64 }),
      })
      .map(({ flips, cut, tail }) => {
        const base = seed()
        const out = new Uint8Array([
          ...base.subarray(0, cut === undefined ? base.length : cut % (base.length + 1)),
          ...tail,
        ])
        for (const [at, xor] of flips) if (out.length > 0) out[at % out.length]! ^= xor
        return out
      })

  /** Edge values for request fields, re-signed by the attacker so they reach the handler's checks. */
  const edgeRequest = fc
    .oneof(
      fc.record({ maxTokens: fc.constantFrom(0, 1, 65, 2 ** 31, 2 ** 32 - 1) }),
      fc.record({ temperature: fc.constantFrom(Number.NaN, -1, 1e30, Number.POSITIVE_INFINITY, 2) }),
      fc.record({ topP: fc.constantFrom(Number.NaN, -0.5, 2, 1e-300) }),
      fc.record({ commitTopK: fc.constantFrom(0, 1, 65, 10 ** 6, 2 ** 32 - 1) }),
      fc.record({ modelHash: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ jobId: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ verificationMode: fc.string({ maxLength: 20 }) }),
      fc.record({ deadlineMs: fc.constantFrom(0n, 1n, 2n ** 64n - 1n, BigInt(Date.now() - 1_000)) }),
      fc.record({ providerPublicKey: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ vrfPublicKey: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({
        messages: fc.array(
          fc.record({ role: fc.string({ maxLength: 12 }), content: fc.string({ maxLength: 200 }) }),
          { maxLength: 20 },
        ),
      }),
      fc.record({ stop: fc.array(fc.string({ maxLength: 30 }), { maxLength: 40 }) }),
      fc.record({ prompt: fc.string({ maxLength: 300 }) }),
    )
    .map((change) => {
      const { maxTokens, temperature, topP, stop, ...rest } = change as Record<string, unknown>
      const sampling = {
        ...requestInit.sampling!,
        ...(maxTokens !== undefined && { maxTokens: maxTokens as number }),
        ...(temperature !== undefined && { temperature: temperature as number }),
        ...(topP !== undefined && { topP: topP as number }),
        ...(stop !== undefined && { stop: stop as string[] }),
      }
      // A fresh job id unless the change is about the job id, so duplicates are not all the provider sees.
      const fresh = { jobId: new Uint8Array(randomBytes(16)) }
      return encodeEnvelope(
        signEnvelope(
          'INFERENCE_REQUEST',
          create(InferenceRequestSchema, {
            ...requestInit,
            ...fresh,
            ...rest,
            sampling,
          } as MessageInitShape<typeof InferenceRequestSchema>),
          attacker.signer,
        ),
      )
    })

  /** Edge values for audit challenges (steps, root, VRF fields), re-signed. */
  const edgeChallenge = fc
    .oneof(
      fc.record({ steps: fc.array(fc.nat(), { maxLength: 64 }) }),
      fc.record({ steps: fc.array(fc.constantFrom(0, 3, 4, 2 ** 32 - 1), { maxLength: 8 }) }),
      fc.record({ jobId: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ transcriptRoot: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ vrfProof: fc.uint8Array({ maxLength: 100 }) }),
      fc.record({ vrfOutput: fc.uint8Array({ maxLength: 100 }) }),
      fc.record({ vrfPublicKey: fc.uint8Array({ maxLength: 40 }) }),
    )
    .map((change) => {
      const message = openEnvelope('AUDIT_CHALLENGE', seeds.challenge).message
      return encodeEnvelope(
        signEnvelope(
          'AUDIT_CHALLENGE',
          create(AuditChallengeSchema, { ...message, ...change }),
          attacker.signer,
        ),
      )
    })

  /** Edge values for fraud proofs: openings with other tokens, ids, log-probs; bonds; missing parts. */
  const edgeFraudProof = fc
    .record({
      token: fc.nat(),
      step: fc.nat(),
      topIds: fc.array(fc.nat(), { maxLength: 16 }),
      topLogprobs: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 16 }),
      bond: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      drop: fc.constantFrom('none', 'request', 'response', 'opening', 'siblings'),
    })
    .map(({ token, step, topIds, topLogprobs, bond, drop }) => {
      const proof = openEnvelope('FRAUD_PROOF', seeds.fraudProof).message
      const changed = create(FraudProofSchema, {
        ...proof,
        recomputed: { ...proof.recomputed!, token, step, topIds, topLogprobs },
        bond,
      })
      if (drop === 'request') changed.request = undefined
      if (drop === 'response') changed.response = undefined
      if (drop === 'opening') changed.opening = undefined
      if (drop === 'siblings') changed.siblings = []
      return encodeEnvelope(signEnvelope('FRAUD_PROOF', changed, attacker.signer))
    })

  const randomInput = fc.uint8Array({ maxLength: 2048 })
  /** A valid envelope of the wrong kind for the protocol. */
  const wrongKind = fc
    .constantFrom(
      () => encodeEnvelope(seeds.response),
      () => encodeEnvelope(seeds.challenge),
      () => encodeEnvelope(seeds.request),
      () => encodeEnvelope(seeds.fraudProof),
    )
    .map((f) => f())

  /**
   * Runs `PER_TARGET` inputs at one target. With `rotateEvery`, the inputs come from a fresh attacker
   * identity every so many (a target whose per-peer rate limit would otherwise answer nearly all of
   * them with ERR_RATE_LIMITED, before its handler sees them: the court allows 16 at once, 2 a second).
   */
  async function fuzz(
    target: string,
    peer: () => string,
    protocol: string,
    input: fc.Arbitrary<Uint8Array>,
    { rotateEvery }: { rotateEvery?: number } = {},
  ) {
    let n = 0
    let from = attacker
    try {
      await fc.assert(
        fc.asyncProperty(input, async (bytes) => {
          if (rotateEvery !== undefined && n % rotateEvery === 0) {
            // The last identity leaves (its connection closed), a new one connects: the router's
            // connection limits see one fuzzing peer at a time. A refused connection is retried.
            if (from !== attacker) await from.stop()
            from = await createNode({ dht: false })
            for (let attempt = 1; ; attempt++) {
              try {
                await from.connect(router.node.multiaddrs[0]!)
                break
              } catch (error) {
                if (attempt >= 10) throw error
                await new Promise((r) => setTimeout(r, 100 * attempt))
              }
            }
          }
          const outcome = await send(protocol, peer(), bytes, from)
          count(target, outcome)
          if (++n % HONEST_EVERY === 0) await honestClient()
          return outcome !== 'crash' && outcome !== 'hang'
        }),
        { numRuns: PER_TARGET, seed: 20261203, endOnFailure: true },
      )
    } finally {
      if (from !== attacker) await from.stop().catch(() => {})
    }
  }

  it('inference handler: every input ends in frames or a typed error; no crash, no hang', async () => {
    await fuzz(
      'provider /infraxa/inference',
      () => provider.peerId,
      PROTOCOL_IDS.inference,
      fc.oneof(
        randomInput,
        wrongKind,
        mutatedBytes(() => encodeEnvelope(seeds.request)),
        edgeRequest,
        edgeRequest,
      ),
    )
    expect(tally.get('provider /infraxa/inference')!.get('frames') ?? 0).toBeGreaterThan(0)
  }, 3_600_000)

  it('audit handler: every input ends in frames or a typed error; no crash, no hang', async () => {
    await fuzz(
      'provider /infraxa/audit',
      () => provider.peerId,
      PROTOCOL_IDS.audit,
      fc.oneof(
        randomInput,
        wrongKind,
        mutatedBytes(() => encodeEnvelope(seeds.challenge)),
        edgeChallenge,
        edgeChallenge,
      ),
    )
  }, 3_600_000)

  it('capability handler: every input ends in a record or a typed error', async () => {
    await fuzz(
      'provider /infraxa/capabilities',
      () => provider.peerId,
      PROTOCOL_IDS.capabilities,
      fc.oneof(randomInput, wrongKind),
    )
  }, 3_600_000)

  it('fraud court (router): every input ends in a verdict or a typed error; no false conviction', async () => {
    await fuzz(
      'router /infraxa/fraud',
      () => router.peerId,
      PROTOCOL_IDS.fraud,
      fc.oneof(
        randomInput,
        wrongKind,
        mutatedBytes(() => encodeEnvelope(seeds.fraudProof)),
        edgeFraudProof,
        edgeFraudProof,
      ),
      { rotateEvery: 15 },
    )
    // However the proofs were forged, the honest provider was never convicted.
    expect(router.reputation.get(provider.peerId).banned).toBe(false)
  }, 3_600_000)

  it('HTTP API: every request gets a 2xx/4xx answer (never a 5xx other than 503, never a hang)', async () => {
    const bodies = fc.oneof(
      fc.json({ maxDepth: 4 }),
      fc.string({ maxLength: 512 }),
      fc
        .record(
          {
            model: fc.oneof(fc.constant('stories260K'), fc.string({ maxLength: 20 }), fc.integer()),
            messages: fc.oneof(
              fc.array(
                fc.record({
                  role: fc.constantFrom('user', 'system', 'assistant', 'tool', ''),
                  content: fc.oneof(fc.string({ maxLength: 100 }), fc.integer(), fc.constant(null)),
                }),
                { maxLength: 4 },
              ),
              fc.anything({ maxDepth: 2 }),
            ),
            prompt: fc.anything({ maxDepth: 1 }),
            max_tokens: fc.oneof(
              fc.integer({ min: -5, max: 12 }),
              fc.double(),
              fc.constant(1e12),
              fc.string(),
            ),
            temperature: fc.oneof(fc.double(), fc.constant('hot')),
            top_p: fc.double(),
            n: fc.integer({ min: -1, max: 3 }),
            seed: fc.oneof(fc.integer(), fc.bigInt().map(String)),
            stop: fc.oneof(
              fc.array(fc.string({ maxLength: 8 }), { maxLength: 6 }),
              fc.string(),
              fc.integer(),
            ),
            stream: fc.boolean(),
            logprobs: fc.anything({ maxDepth: 1 }),
            verification: fc.constantFrom('merkle', 'fraud_proof', 'zk_snark', 'nope'),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    )
    const requests = fc.record({
      path: fc.constantFrom(
        '/v1/chat/completions',
        '/v1/completions',
        '/v1/models',
        '/v1/receipts/zz',
        '/nope',
        '/v1/chat/completions?x=%ff',
      ),
      method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE'),
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', ''),
      body: fc.oneof(
        bodies.map((s) => new TextEncoder().encode(s)),
        fc.uint8Array({ maxLength: 512 }),
      ),
    })
    let n = 0
    await fc.assert(
      fc.asyncProperty(requests, async ({ path, method, contentType, body }) => {
        const signal = AbortSignal.timeout(INPUT_DEADLINE_MS)
        let outcome: Outcome
        try {
          const res = await fetch(`${router.url}${path}`, {
            method,
            signal,
            headers: contentType ? { 'content-type': contentType } : {},
            ...(method !== 'GET' && { body }),
          })
          await res.arrayBuffer()
          outcome = res.status >= 500 && res.status !== 503 ? 'crash' : `remote HTTP ${res.status}`
        } catch {
          outcome = signal.aborted ? 'hang' : 'crash'
        }
        count('router HTTP', outcome)
        if (++n % HONEST_EVERY === 0) await honestClient()
        return outcome !== 'crash' && outcome !== 'hang'
      }),
      { numRuns: PER_TARGET, seed: 20261203, endOnFailure: true },
    )
  }, 3_600_000)

  it('the honest client was served throughout', async () => {
    await honestClient()
    expect(honest.verified).toBe(honest.asked)
  })
})
