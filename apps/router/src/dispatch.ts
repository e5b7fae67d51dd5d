import type { EngineModel } from '@infraxa/engine'
import { MERKLE_MODE_ID, type ModeRegistry } from '@infraxa/proofs/modes'
import { InfraxaError, RemoteError } from '@infraxa/protocol'
import { ZK_SNARK_MODE_ID } from '@infraxa/zk'
import type { Resume } from './answer-stream.js'
import { type EligibilityDeps, eligibleProviders } from './candidates.js'
import { type ConsensusDeps, runConsensus } from './consensus.js'
import { CONSENSUS_MODE_ID } from './consensus-mode.js'
import {
  BadRequestError,
  CannotVerifyError,
  ContextLengthExceededError,
  NoVerifiedAnswerError,
  ResumeDivergedError,
  TooManyRequestsError,
  UnknownModelError,
} from './errors.js'
import type { CompletionRequest, CompletionResult } from './http.js'
import { type createJobRunner, VerificationFailed } from './job.js'
import type { RouterMetrics } from './metrics.js'
import { pickWithExploration } from './selection.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export interface DispatchDeps extends EligibilityDeps {
  registry: ModeRegistry
  metrics: Pick<RouterMetrics, 'request'>
  runJob: ReturnType<typeof createJobRunner>
  /** Looks for providers again (connected peers, then the DHT). */
  refresh: (timeoutMs?: number) => Promise<void>
  /** Providers tried per request before giving up. */
  maxAttempts: number
  /** How long a completion may wait for a provider with room (or for discovery). */
  queueWaitMs: number
  /** Share of traffic for identities on probation. */
  newcomerShare: number
  /** The `consensus` mode's orchestration (n providers, k agreeing). */
  consensus?: ConsensusDeps
}

/**
 * The way from a client's request to a verified answer: resolve the model, tokenize the prompt and check
 * it against the providers' published limits (a request none accepts is the client's, 400), take a place
 * in the model's bounded queue (full: 429), then wait for a provider with room and run the job on it,
 * retrying elsewhere on failure — busy is load, never a fault.
 */
export function createDispatcher(deps: DispatchDeps): {
  complete: (
    req: CompletionRequest,
    onText: ((text: string) => void) | undefined,
    signal: AbortSignal,
  ) => Promise<CompletionResult>
} {
  const { registry, verifyModels, providers, scheduler, reputation, metrics, runJob, refresh } = deps
  const { maxAttempts, queueWaitMs, newcomerShare } = deps
  const eligibility: EligibilityDeps = deps

  function resolveModel(model: string): { hash: Uint8Array; name: string } {
    const lower = model.toLowerCase()
    for (const m of verifyModels.all)
      if (m.name === model || m.hashHex === lower) return { hash: m.hash, name: m.name }
    for (const p of providers.all()) {
      for (const offer of p.capability.models) {
        if (offer.name === model || hex(offer.modelHash) === lower)
          return { hash: offer.modelHash, name: offer.name }
      }
    }
    // A hash prefix of 8+ hex digits, as git takes one: the model whose hash alone starts with it.
    if (/^[0-9a-f]{8,63}$/.test(lower)) {
      const found = new Map<string, { hash: Uint8Array; name: string }>()
      for (const m of verifyModels.all)
        if (m.hashHex.startsWith(lower)) found.set(m.hashHex, { hash: m.hash, name: m.name })
      for (const p of providers.all())
        for (const o of p.capability.models)
          if (hex(o.modelHash).startsWith(lower) && !found.has(hex(o.modelHash)))
            found.set(hex(o.modelHash), { hash: o.modelHash, name: o.name })
      if (found.size === 1) return [...found.values()][0]!
      if (found.size > 1)
        throw new BadRequestError(
          `model hash prefix "${model}" matches ${found.size} models (${[...found.keys()].join(', ')}): give more digits`,
          'model',
        )
    }
    const names = new Set<string>(verifyModels.all.map((m) => m.name))
    for (const p of providers.all()) for (const o of p.capability.models) names.add(o.name)
    throw new UnknownModelError(model, [...names])
  }

  /**
   * A completion (one choice of a request), counted once in `infraxa_requests_total` by how it ended:
   * a consensus answer once, not once per provider job.
   */
  async function complete(
    req: CompletionRequest,
    onText: ((text: string) => void) | undefined,
    signal: AbortSignal,
  ): Promise<CompletionResult> {
    const start = performance.now()
    try {
      const result = await answer(req, onText, signal)
      metrics.request('verified', performance.now() - start)
      return result
    } catch (error) {
      metrics.request(outcomeOf(error, signal), performance.now() - start)
      throw error
    }
  }

  async function answer(
    req: CompletionRequest,
    onText: ((text: string) => void) | undefined,
    signal: AbortSignal,
  ): Promise<CompletionResult> {
    if (!registry.has(req.verification)) {
      throw new BadRequestError(
        `unknown verification mode "${req.verification}" (${registry.ids().join(', ')})`,
        'verification',
      )
    }
    let model: { hash: Uint8Array; name: string }
    try {
      model = resolveModel(req.model)
    } catch {
      // Not known yet (right after start, or a provider just joined): look once more.
      await refresh(2_000)
      model = resolveModel(req.model)
    }
    // The answer text is made from token ids with the router's own tokenizer, in every mode: without
    // the model the router could only pass on a provider's say-so.
    const engine = verifyModels.engineFor(model.hash)
    if (engine === undefined) throw new CannotVerifyError(req.model, req.verification)
    if (
      req.verification === ZK_SNARK_MODE_ID &&
      req.temperature > 0 &&
      req.topP !== undefined &&
      req.topP > 0 &&
      req.topP < 1
    ) {
      throw new BadRequestError(
        'zk_snark proves sampled answers without top_p (the poseidon-gumbel rule): leave top_p unset',
      )
    }
    // A text completion's raw prompt (BOS, no template) or chat messages under the model's template:
    // the provider and every verifier tokenize the signed request the same way.
    const promptTokens =
      req.prompt !== undefined
        ? await engine.tokenizeText(req.prompt)
        : await engine.tokenizePrompt(req.messages)
    const promptParam = req.prompt !== undefined ? 'prompt' : 'messages'
    if (promptTokens.length + req.maxTokens > engine.contextSize) {
      throw new ContextLengthExceededError(
        promptTokens.length,
        req.maxTokens,
        engine.contextSize,
        promptParam,
      )
    }
    // The providers' published limits, checked before any work: a request none of them accepts is the
    // client's to fix (400), never a provider's fault or a 503.
    const offers = providers.serving(model.hash).map(({ provider }) => provider.capability)
    if (offers.length > 0) {
      const promptLimit = Math.max(...offers.map((c) => c.maxPromptTokens || Number.POSITIVE_INFINITY))
      if (promptTokens.length > promptLimit)
        throw new ContextLengthExceededError(promptTokens.length, req.maxTokens, promptLimit, promptParam)
      const outputLimit = Math.max(...offers.map((c) => c.maxOutputTokens || Number.POSITIVE_INFINITY))
      if (req.maxTokens > outputLimit)
        throw new BadRequestError(
          `max_tokens ${req.maxTokens} exceeds what the providers of ${model.name} generate (at most ${outputLimit})`,
          'max_tokens',
        )
    }
    const queue = hex(model.hash)
    if (!scheduler.enter(queue)) {
      throw new TooManyRequestsError(model.name, scheduler.pending(queue), 1)
    }
    try {
      if (req.verification === CONSENSUS_MODE_ID && deps.consensus !== undefined) {
        // Each of its jobs is an ordinary merkle job: the providers that serve those.
        const eligible = eligibleProviders(
          eligibility,
          model.hash,
          { ...req, verification: MERKLE_MODE_ID },
          new Set(),
        ).length
        return await runConsensus(deps.consensus, {
          request: req,
          eligible,
          registry,
          run: (sub, taken) =>
            schedule(sub, model, engine, promptTokens, undefined, signal, { taken, waitMs: 5_000 }),
        })
      }
      return await schedule(req, model, engine, promptTokens, onText, signal)
    } finally {
      scheduler.leave(queue)
    }
  }

  /**
   * Runs a completion on the best provider with room, retrying elsewhere on failure. While every
   * provider is busy (or none is known yet, right after start) the request waits, up to `queueWaitMs`,
   * woken when a job ends: busy costs nobody reputation, and is answered 429 only when the wait runs out.
   */
  async function schedule(
    req: CompletionRequest,
    model: { hash: Uint8Array; name: string },
    engine: EngineModel,
    promptTokens: readonly number[],
    onText: ((text: string) => void) | undefined,
    signal: AbortSignal,
    /** Consensus jobs: providers another of the same request's jobs took (each job a distinct one). */
    { taken, waitMs = queueWaitMs }: { taken?: Set<string>; waitMs?: number } = {},
  ): Promise<CompletionResult> {
    const attempts: string[] = []
    const refusals: string[] = []
    const tried = new Set<string>()
    const delivered: { sent?: Resume } = {}
    const admittedAt = performance.now()
    const waitUntil = Date.now() + waitMs
    const skipped = () => (taken === undefined ? tried : new Set([...tried, ...taken]))
    let startedAt = admittedAt
    let failures = 0
    let sawBusy = false
    let refreshed = false
    while (failures < maxAttempts) {
      if (signal.aborted)
        throw new InfraxaError('ERR_ABORTED', 'the client went away', { cause: signal.reason })
      // Slots not read in the last 15 s are read first (selection weighs what the chain says).
      await deps.stake?.refresh(providers.serving(model.hash).map((s) => s.provider))
      const all = eligibleProviders(eligibility, model.hash, req, skipped())
      const ready = all.filter((c) => !scheduler.isBusy(c.peerId) && scheduler.inFlight(c.peerId) < c.room)
      if (ready.length === 0) {
        const known = providers.serving(model.hash).length > 0
        if (all.length === 0 && known && refreshed) break
        if (Date.now() >= waitUntil) break
        if (all.length === 0) {
          // Nobody (else) serves it yet: look again (the first request after start waits for discovery).
          await refresh(2_000)
          refreshed = true
          if (eligibleProviders(eligibility, model.hash, req, skipped()).length === 0) {
            await scheduler.waitForCapacity(Math.min(500, waitUntil - Date.now()), signal)
          }
          continue
        }
        sawBusy = true
        await scheduler.waitForCapacity(Math.min(250, scheduler.nextFreeInMs() ?? 250), signal)
        continue
      }
      const chosen = pickWithExploration(ready, newcomerShare)!
      taken?.add(chosen.peerId)
      const done = scheduler.start(chosen.peerId)
      startedAt = performance.now()
      try {
        const result = await runJob({
          request: req,
          modelHash: model.hash,
          modelName: model.name,
          providerId: chosen.peerId,
          providerKey: chosen.publicKey,
          engine,
          promptTokens,
          onText,
          signal,
          delivered,
        })
        const totalMs = performance.now() - admittedAt
        return {
          ...result,
          receipt: {
            ...result.receipt,
            attempts: failures + 1,
            // Waiting for a provider with room, and the router's whole time on the request (not HTTP).
            timings_ms: {
              ...result.receipt.timings_ms,
              wait: Math.round(startedAt - admittedAt),
              total: round2(totalMs),
            },
          },
        }
      } catch (error) {
        if (signal.aborted) throw error
        // Busy (or rate-limited) is load, not a fault: wait for its hint, then try again.
        if (error instanceof RemoteError && BUSY.has(error.code)) {
          scheduler.markBusy(chosen.peerId, error.retryAfterMs ?? 500)
          sawBusy = true
          continue
        }
        // Part of the answer reached the client and the retry did not reproduce it: nobody's fault, and
        // nothing more to try (text sent cannot be taken back, and answers are never spliced).
        if (error instanceof ResumeDivergedError) throw error
        tried.add(chosen.peerId)
        failures++
        // After text reached the client, the retry below resumes: the same request and seed elsewhere, which
        // must reproduce what was sent (its whole answer verified, that part included) and sends the rest.
        if (error instanceof VerificationFailed) {
          attempts.push(
            `${chosen.peerId}: failed verification (${error.reason}); banned; receipt ${error.receiptId}`,
          )
          continue
        }
        const message = error instanceof InfraxaError ? error.shortMessage : String(error)
        const timeout = error instanceof InfraxaError && /TIMEOUT|ABORT/.test(error.code)
        // Refusals caused by the request itself (limits, unsupported options) are nobody's fault.
        const clientCaused = error instanceof RemoteError && CLIENT_CAUSED.has(error.code)
        if (!clientCaused)
          reputation.record(chosen.peerId, timeout ? 'timeout' : 'error', { reason: message })
        else refusals.push(`${chosen.peerId}: ${message}`)
        if (!(error instanceof InfraxaError)) console.error('router: unexpected job error', error)
        attempts.push(`${chosen.peerId}: ${message}`)
        void providers.refresh(chosen.peerId)
      } finally {
        done()
      }
    }
    if (refusals.length > 0 && refusals.length === attempts.length) {
      // Every provider tried refused the request itself (a limit, an option): the client's to fix.
      throw new BadRequestError(`every provider refused the request: ${refusals.join('; ')}`)
    }
    if (attempts.length === 0 && sawBusy) {
      throw new TooManyRequestsError(model.name, scheduler.pending(hex(model.hash)), 1)
    }
    throw new NoVerifiedAnswerError(attempts, performance.now() - admittedAt)
  }

  return { complete }
}

/** ERROR codes that mean "not now": the router waits and tries again, nobody is penalised. */
const BUSY = new Set(['ERR_BUSY', 'ERR_RATE_LIMITED'])

/** ERROR codes a provider answers for requests it may not serve: not held against it. */
const CLIENT_CAUSED = new Set([
  'ERR_LIMIT_EXCEEDED',
  'ERR_UNSUPPORTED_MODE',
  'ERR_BUSY',
  'ERR_INVALID_TOKEN',
  'ERR_CONTEXT_OVERFLOW',
  'ERR_EMPTY_PROMPT',
  'ERR_INVALID_PROMPT',
])

const round2 = (ms: number) => Math.round(ms * 100) / 100

/**
 * How a request that did not end verified counts in `infraxa_requests_total`: `cancelled` (the client
 * went away), `busy` (429: queue full or every provider busy), `refused` (the request itself: 4xx),
 * else `failed` (no provider produced a verified answer, consensus not reached, a resume diverged).
 */
function outcomeOf(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'cancelled'
  if (error instanceof TooManyRequestsError) return 'busy'
  const status = (error as { status?: unknown } | null)?.status
  if (typeof status === 'number' && status >= 400 && status < 500) return 'refused'
  return 'failed'
}
