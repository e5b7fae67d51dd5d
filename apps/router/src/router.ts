import { mkdirSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import type { EngineModel, LoadProgress } from '@infraxa/engine'
import { createNode, type InfraxaNode, peerIdFromSignerKey } from '@infraxa/p2p'
import { createModeRegistry, fraudProofMode, type ModeRegistry, merkleMode } from '@infraxa/proofs/modes'
import { ZK_SNARK_MODE_ID, zkSnarkMode } from '@infraxa/proofs/zk'
import { InfraxaError, openEnvelope, RemoteError, type SignedEnvelope } from '@infraxa/protocol'
import { fetchAuditProof, signAuditChallenge } from './audit-request.js'
import { serveFraudProofs } from './court.js'
import { JobJournal } from './dashboard.js'
import { dashboardView } from './dashboard-view.js'
import {
  BadRequestError,
  CannotVerifyError,
  ContextLengthExceededError,
  NoVerifiedAnswerError,
  TooManyRequestsError,
  UnknownModelError,
} from './errors.js'
import { type CompletionRequest, type CompletionResult, createHttpServer, type RouterApi } from './http.js'
import { createJobRunner, VerificationFailed } from './job.js'
import { RouterMetrics } from './metrics.js'
import { ProviderTable } from './provider-table.js'
import { ReceiptStore } from './receipts.js'
import { type ReputationBook as Book, ReputationBook } from './reputation.js'
import { Scheduler } from './scheduler.js'
import { type Candidate, pickWithExploration } from './selection.js'
import { type VerifyModelSource, VerifyModels } from './verify-models.js'
import { loadOrCreateVrfKey } from './vrf-key.js'
import { createWatcher } from './watcher.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export type { VerifyModelSource } from './verify-models.js'

export interface RouterOptions {
  dataDir: string
  /** @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  bootstrap?: string[]
  /** @default false */
  mdns?: boolean
  /** HTTP address `host:port` (port 0 picks one); `false` for no HTTP server. @default '127.0.0.1:8080' */
  http?: string | false
  /** Models the router holds to re-execute audits. */
  verifyModels?: readonly VerifyModelSource[]
  /** CPU threads per verify-model context. @default cores − 1, 1..8 */
  threads?: number
  /** Replays that run at once per verify model, each on its own context (`--verify-contexts`). @default 1 */
  verifyContexts?: number
  /** Steps audited per job (c). @default 4 */
  auditSteps?: number
  /** Fraction of jobs audited after probation. @default 1 (every job) */
  auditRate?: number
  /** Clean jobs before a provider leaves probation. @default 10 */
  probationJobs?: number
  /** Providers tried per request before giving up. @default 3 */
  maxAttempts?: number
  /** Deadline of one inference on a provider. @default 120 s */
  jobTimeoutMs?: number
  /** Entries of the committed top-k per step. @default 8 */
  commitTopK?: number
  /**
   * Comparison tolerances. By default CALIBRATED_TOLERANCE from @infraxa/engine when the provider's
   * engine settings match the router's (same llama.cpp release, backend, build and pinned settings),
   * else CROSS_BUILD_TOLERANCE (which still catches another model, not another quantisation).
   */
  tolerance?: { maxLogprobDelta: number; minTopKOverlap: number }
  /** Extra verification modes (third-party), next to the built-in `merkle`. */
  modes?: ReturnType<typeof merkleMode>[]
  onProgress?: (model: string, progress: LoadProgress) => void
  /** Reputation half-life. @default 6 h */
  reputationHalfLifeMs?: number
  /** fraud_proof mode: how long an optimistic answer stays open to fraud proofs. @default 10 min */
  challengeWindowMs?: number
  /**
   * Accept providers whose engine (llama.cpp build, batch size, attention) differs from the router's,
   * compared with CROSS_BUILD_TOLERANCE: catches another model, not another quantisation. Without it
   * such providers are not selected (an honest one would fail the calibrated tolerance).
   * @default false
   */
  allowOtherBuilds?: boolean
  /**
   * Re-check a float-weight job whose per-token check shows a mismatch by replaying it stepwise (as the
   * provider decoded: bit-exact on the same build), at about the cost of generating it; a token still
   * not the sampler's pick then fails the job. Off: such jobs are judged on the prefill's noise only
   * (near-tie cheats go grey, not caught). @default true
   */
  stepwiseFollowUp?: boolean
  /**
   * Share of audited jobs whose opened steps are also re-executed stepwise and compared bit-exact
   * (EXACT_REPLAY_TOLERANCE), for providers on the router's engine decoding one job at a time: catches a
   * precision swap or perturbed weights that changed no token (about one generation's cost per such
   * job; 0.05 adds ~5%). @default 0.05
   */
  stepwiseAuditRate?: number
  /**
   * Verified streaming: tokens re-executed per chunk before their text is released (smaller: text sooner,
   * more replay calls). @default 16
   */
  streamCheckTokens?: number
  /**
   * Share of traffic for identities on probation when trusted providers are available too (fair
   * probation: an honest newcomer leaves it in bounded time, Sybils together stay capped). @default 0.1
   */
  newcomerShare?: number
  /** Completions that may wait or run per model; past it the client gets 429. @default 256 */
  maxPendingPerModel?: number
  /** How long a completion may wait for a provider with room (or for discovery). @default 60 s */
  queueWaitMs?: number
}

export interface Router extends AsyncDisposable {
  readonly node: InfraxaNode
  readonly peerId: string
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:8080` (undefined without HTTP). */
  readonly url: string | undefined
  readonly api: RouterApi
  readonly reputation: Book
  readonly providers: ProviderTable
  /** Refresh the provider table now: connected peers, then the DHT for every verifiable model. */
  refresh(timeoutMs?: number): Promise<void>
  /**
   * Audits an earlier job again (same VRF challenge) against the provider that served it, e.g. after the
   * provider restarted or to settle a dispute. Records nothing in reputation; returns the verdict.
   */
  auditAgain(receiptId: string, signal?: AbortSignal): Promise<{ valid: boolean; reason: string }>
  /**
   * fraud_proof mode: resolves when the router's watcher has checked an optimistic answer — `verified`,
   * or `failed` with the fraud proven (the provider is then banned and its stake slashed in the ledger).
   */
  whenSettled(receiptId: string): Promise<{ verdict: string; reason: string }>
  stop(): Promise<void>
}

/**
 * Starts a router: a libp2p node that discovers providers, an HTTP API (OpenAI-compatible), and the
 * verification loop — select a provider, stream its answer, audit it (ECVRF challenge, openings,
 * re-execution), update reputation, retry elsewhere on failure, and sign a receipt.
 *
 * @example
 * const router = await createRouter({ dataDir: './router', verifyModels: [{ path: 'model.gguf' }], bootstrap })
 * console.log(router.url) // POST {url}/v1/chat/completions
 */
export async function createRouter(options: RouterOptions): Promise<Router> {
  mkdirSync(options.dataDir, { recursive: true })
  const auditSteps = options.auditSteps ?? 4
  const auditRate = options.auditRate ?? 1
  const maxAttempts = options.maxAttempts ?? 3
  const jobTimeoutMs = options.jobTimeoutMs ?? 120_000
  const commitTopK = options.commitTopK ?? 8
  const registry: ModeRegistry = createModeRegistry([
    merkleMode(),
    fraudProofMode(),
    zkSnarkMode(),
    ...(options.modes ?? []),
  ])
  const challengeWindowMs = options.challengeWindowMs ?? 10 * 60_000
  const queueWaitMs = options.queueWaitMs ?? 60_000
  const scheduler = new Scheduler(options.maxPendingPerModel ?? 256)
  const settling = new Map<string, Promise<{ verdict: string; reason: string }>>()

  const verifyModels = await VerifyModels.load(options.verifyModels ?? [], {
    ...(options.threads !== undefined && { threads: options.threads }),
    ...(options.verifyContexts !== undefined && { contexts: options.verifyContexts }),
    ...(options.onProgress && { onProgress: options.onProgress }),
    ...(options.tolerance && { tolerance: options.tolerance }),
    ...(options.allowOtherBuilds !== undefined && { allowOtherBuilds: options.allowOtherBuilds }),
    ...(options.stepwiseFollowUp !== undefined && { stepwiseFollowUp: options.stepwiseFollowUp }),
  })
  const disposeModels = () => verifyModels.dispose()

  const db = new DatabaseSync(join(options.dataDir, 'router.sqlite'))
  // WAL, synced at checkpoints: a write survives a crash of the process, without an fsync per job.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL')
  const metrics = new RouterMetrics({
    providers: () => providers.all().length,
    pendingCompletions: () => scheduler.pendingTotal,
    jobsInFlight: () => scheduler.inFlightTotal,
    bannedProviders: () => reputation.list().filter((r) => r.banned).length,
  })
  const reputation = new ReputationBook(db, {
    onEvent: (event) => metrics.reputation(event),
    ...(options.probationJobs !== undefined && { probationJobs: options.probationJobs }),
    ...(options.reputationHalfLifeMs !== undefined && { halfLifeMs: options.reputationHalfLifeMs }),
  })
  const receipts = new ReceiptStore(db)
  const journal = new JobJournal()
  journal.start(() => ({
    queueDepth: scheduler.pendingTotal - scheduler.inFlightTotal,
    inFlight: scheduler.inFlightTotal,
  }))
  const vrfSecretKey = loadOrCreateVrfKey(options.dataDir)
  let node: InfraxaNode
  try {
    node = await createNode({
      dataDir: options.dataDir,
      listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      ...(options.bootstrap && { bootstrap: options.bootstrap }),
      mdns: options.mdns ?? false,
    })
  } catch (error) {
    db.close()
    await disposeModels()
    throw error
  }
  const providers = new ProviderTable(node)
  await serveFraudProofs(node, { verifyModels, reputation })
  const watch = createWatcher({
    node,
    registry,
    receipts,
    reputation,
    verifyModels,
    vrfSecretKey,
    auditSteps,
    onSettled: (verdict, jobHex, reason) => {
      metrics.job(verdict)
      journal.settled(jobHex, verdict, reason)
    },
  })

  const offConnect = node.on('peer:connect', (event) => {
    void providers.refresh(String((event as CustomEvent).detail))
  })
  const refresh = async (timeoutMs = 3_000) => {
    await providers.refreshConnected()
    const signal = AbortSignal.timeout(timeoutMs)
    await Promise.all(verifyModels.all.map((m) => providers.discover(m.hash, signal)))
  }
  const periodic = setInterval(() => void refresh().catch(() => {}), 15_000)
  periodic.unref()

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
    throw new UnknownModelError(model, modelNames())
  }

  function modelNames(): string[] {
    const names = new Set<string>(verifyModels.all.map((m) => m.name))
    for (const p of providers.all()) for (const o of p.capability.models) names.add(o.name)
    return [...names]
  }

  const runJob = createJobRunner({
    node,
    registry,
    receipts,
    reputation,
    providers,
    verifyModels,
    vrfSecretKey,
    settings: {
      auditSteps,
      auditRate,
      jobTimeoutMs,
      commitTopK,
      challengeWindowMs,
      stepwiseAuditRate: options.stepwiseAuditRate ?? 0.05,
      ...(options.streamCheckTokens !== undefined && { streamCheckTokens: options.streamCheckTokens }),
    },
    settling,
    watch,
    metrics,
    journal,
  })

  async function complete(
    req: CompletionRequest,
    onText: ((text: string) => void) | undefined,
    signal: AbortSignal,
  ): Promise<CompletionResult> {
    if (!registry.has(req.verification)) {
      throw new BadRequestError(
        `unknown verification mode "${req.verification}" (${registry.ids().join(', ')})`,
      )
    }
    let model: { hash: Uint8Array; name: string }
    try {
      model = resolveModel(req.model)
    } catch (error) {
      await refresh(2_000)
      model = resolveModel(req.model)
      void error
    }
    // The answer text is made from token ids with the router's own tokenizer, in every mode: without
    // the model the router could only pass on a provider's say-so.
    const engine = verifyModels.engineFor(model.hash)
    if (engine === undefined) throw new CannotVerifyError(req.model, req.verification)
    if (req.verification === ZK_SNARK_MODE_ID && req.temperature !== 0) {
      throw new BadRequestError('zk_snark proves greedy decoding only: use temperature 0')
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
      metrics.request('rejected_full')
      throw new TooManyRequestsError(model.name, scheduler.pending(queue), 1)
    }
    try {
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
  ): Promise<CompletionResult> {
    const attempts: string[] = []
    const refusals: string[] = []
    const tried = new Set<string>()
    const delivered = { value: false }
    const admittedAt = performance.now()
    const waitUntil = Date.now() + queueWaitMs
    let startedAt = admittedAt
    let failures = 0
    let sawBusy = false
    let refreshed = false
    while (failures < maxAttempts) {
      if (signal.aborted)
        throw new InfraxaError('ERR_ABORTED', 'the client went away', { cause: signal.reason })
      const all = candidatesFor(model.hash, req, tried)
      const ready = all.filter((c) => !scheduler.isBusy(c.peerId) && scheduler.inFlight(c.peerId) < c.room)
      if (ready.length === 0) {
        const known = providers.serving(model.hash).length > 0
        if (all.length === 0 && known && refreshed) break
        if (Date.now() >= waitUntil) break
        if (all.length === 0) {
          // Nobody (else) serves it yet: look again (the first request after start waits for discovery).
          await refresh(2_000)
          refreshed = true
          if (candidatesFor(model.hash, req, tried).length === 0) {
            await scheduler.waitForCapacity(Math.min(500, waitUntil - Date.now()), signal)
          }
          continue
        }
        sawBusy = true
        await scheduler.waitForCapacity(Math.min(250, scheduler.nextFreeInMs() ?? 250), signal)
        continue
      }
      const chosen = pickWithExploration(ready, options.newcomerShare ?? 0.1)!
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
        metrics.request('verified', totalMs)
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
        if (error instanceof RemoteError && BUSY.has(error.code) && !delivered.value) {
          scheduler.markBusy(chosen.peerId, error.retryAfterMs ?? 500)
          sawBusy = true
          continue
        }
        tried.add(chosen.peerId)
        failures++
        if (error instanceof VerificationFailed) {
          attempts.push(`${chosen.peerId}: failed verification (${error.reason}); banned`)
          // Text already streamed to the client cannot be taken back: report, don't splice answers.
          if (delivered.value) throw error
          continue
        }
        const message = error instanceof InfraxaError ? error.shortMessage : String(error)
        const timeout = error instanceof InfraxaError && /TIMEOUT|ABORT/.test(error.code)
        // Refusals caused by the request itself (limits, unsupported options) are nobody's fault.
        const clientCaused = error instanceof RemoteError && CLIENT_CAUSED.has(error.code)
        if (!clientCaused)
          reputation.record(chosen.peerId, timeout ? 'timeout' : 'error', { reason: message })
        else refusals.push(`${chosen.peerId}: ${message}`)
        if (delivered.value) throw error
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
      metrics.request('busy', performance.now() - admittedAt)
      throw new TooManyRequestsError(model.name, scheduler.pending(hex(model.hash)), 1)
    }
    metrics.request('failed', performance.now() - admittedAt)
    throw new NoVerifiedAnswerError(attempts.length > 0 ? attempts : ['no eligible provider for this model'])
  }

  function candidatesFor(
    hash: Uint8Array,
    req: CompletionRequest,
    tried: Set<string>,
  ): Array<Candidate & { publicKey: Uint8Array; onProbation: boolean; room: number }> {
    const out: Array<Candidate & { publicKey: Uint8Array; onProbation: boolean; room: number }> = []
    for (const { provider, offer } of providers.serving(hash)) {
      if (tried.has(provider.peerId)) continue
      const rep = reputation.get(provider.peerId)
      if (rep.banned) continue
      const cap = provider.capability
      if (!cap.verificationModes.includes(req.verification)) continue
      if (cap.maxOutputTokens > 0 && req.maxTokens > cap.maxOutputTokens) continue
      if (cap.maxCommitTopK > 0 && commitTopK > cap.maxCommitTopK) continue
      if (!ProviderTable.keyMatches(provider.peerId, provider.publicKey)) continue
      if (
        !options.allowOtherBuilds &&
        verifyModels.engineFor(hash) !== undefined &&
        !verifyModels.sameEngine(hash, offer.engine)
      )
        continue
      // The file behind a hash has one architecture, weight type and size: an offer that says otherwise
      // is not for the model the router verifies with.
      if (!verifyModels.offerMatchesCopy(hash, offer)) continue
      // Live load: the provider's last record, or this router's own jobs on it if that says more.
      const inFlight = scheduler.inFlight(provider.peerId)
      const load =
        offer.maxConcurrentJobs > 0
          ? Math.max(offer.activeJobs + offer.queuedJobs, inFlight) / offer.maxConcurrentJobs
          : cap.loadPermille / 1000
      // Jobs this router may have on it at once: its sequences and queue (unknown: no bound here).
      const room =
        offer.maxConcurrentJobs > 0 ? offer.maxConcurrentJobs + offer.maxQueuedJobs : Number.POSITIVE_INFINITY
      // Optimism for identities never tried: new providers get traffic (all of it audited on probation, and
      // nothing streamed before the audit passes), so the network can grow without trusting anyone.
      const score = rep.totalJobs === 0 ? 1 : rep.score
      out.push({
        peerId: provider.peerId,
        publicKey: provider.publicKey,
        score,
        load,
        latencyMs: provider.latencyMs,
        onProbation: rep.onProbation,
        room,
      })
    }
    return out
  }

  async function auditAgain(
    receiptId: string,
    signal?: AbortSignal,
  ): Promise<{ valid: boolean; reason: string }> {
    const envelope = receipts.getEnvelope(receiptId.replace(RECEIPT_ID_PREFIX, ''))
    if (envelope === undefined) throw new BadRequestError(`no receipt "${receiptId}"`)
    const { message: receipt } = openEnvelope('RECEIPT', envelope, { signer: node.publicKey })
    if (receipt.request === undefined || receipt.response === undefined)
      throw new BadRequestError('receipt has no exchange')
    const { message: request } = openEnvelope('INFERENCE_REQUEST', receipt.request)
    const { message: response } = openEnvelope('INFERENCE_RESPONSE', receipt.response)
    const providerId = peerIdFromSignerKey(receipt.response.publicKey).toString()
    const challengeEnvelope = signAuditChallenge(
      node,
      vrfSecretKey,
      { ...response, jobId: request.jobId },
      auditSteps,
    ).envelope
    let auditProof: SignedEnvelope
    try {
      auditProof = await fetchAuditProof(node, providerId, challengeEnvelope, signal)
    } catch (error) {
      if (error instanceof InfraxaError)
        return { valid: false, reason: `audit not answered: ${error.shortMessage}` }
      throw error
    }
    const executor = verifyModels.engineFor(request.modelHash)
    if (executor === undefined) throw new CannotVerifyError(hex(request.modelHash), receipt.verificationMode)
    const tolerance = verifyModels.toleranceFor(request.modelHash, response.engine)
    const result = await registry.get(receipt.verificationMode).verify(
      { request: receipt.request, response: receipt.response, challenge: challengeEnvelope, auditProof },
      {
        executor,
        tolerance,
        minAuditSteps: Math.min(auditSteps, response.stepCount),
        tokenNoise: verifyModels.noiseFor(request.modelHash, response.engine),
      },
    )
    return result.valid ? { valid: true, reason: '' } : { valid: false, reason: result.reason }
  }

  const api: RouterApi = {
    complete,
    models() {
      const byHash = new Map<
        string,
        { name: string; providers: number; verifiable: boolean; offer?: Record<string, unknown> }
      >()
      for (const m of verifyModels.all)
        byHash.set(m.hashHex, { name: m.name, providers: 0, verifiable: true })
      for (const p of providers.all()) {
        if (reputation.get(p.peerId).banned) continue
        for (const o of p.capability.models) {
          const key = hex(o.modelHash)
          const entry = byHash.get(key) ?? { name: o.name, providers: 0, verifiable: false }
          entry.providers++
          entry.offer = {
            architecture: o.architecture,
            quantization: o.quantization,
            parameter_count: Number(o.parameterCount),
            context_length: o.contextLength,
          }
          byHash.set(key, entry)
        }
      }
      return [...byHash.entries()].map(([hash, e]) => ({
        id: e.name,
        object: 'model',
        created: 0,
        owned_by: 'infraxa',
        infraxa: { model_hash: hash, providers: e.providers, verifiable: e.verifiable, ...e.offer },
      }))
    },
    receipt: (id) =>
      receipts.view(id.replace(RECEIPT_ID_PREFIX, ''), (request, response) => {
        const engine = verifyModels.engineFor(request.modelHash)
        if (engine === undefined || response.outputTokens.some((t) => !(t >= 0 && t < engine.vocabSize)))
          return undefined
        const text = engine.answerText(response.promptTokens, request.sampling?.stop ?? [])
        for (const token of response.outputTokens) text.push(token)
        text.end()
        return text.text
      }),
    health: () => ({
      status: 'ok',
      peer_id: node.peerId.toString(),
      providers: providers.all().length,
      verify_models: verifyModels.all.map((m) => ({ name: m.name, model_hash: m.hashHex })),
      reputation: reputation.list().map((r) => ({
        peer_id: r.peerId,
        score: Number(r.score.toFixed(4)),
        clean_jobs: r.cleanJobs,
        probation: r.onProbation,
        banned: r.banned,
        ban_reason: r.banReason,
      })),
    }),
    metrics: () => metrics.render(),
    dashboard: () =>
      dashboardView({
        peerId: node.peerId.toString(),
        providers: providers.all(),
        reputation: (peerId) => reputation.get(peerId),
        banned: reputation.list().filter((r) => r.banned),
        inFlight: (peerId) => scheduler.inFlight(peerId),
        sameBuild: (hash, engine) => verifyModels.sameEngine(hash, engine),
        journal,
      }),
  }

  let server: Server | undefined
  let url: string | undefined
  if (options.http !== false) {
    const [host, portText] = (options.http ?? '127.0.0.1:8080').split(/:(?=\d+$)/)
    server = createHttpServer(api)
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject)
      server!.listen(Number(portText ?? 8080), host, () => resolve())
    })
    const address = server.address() as AddressInfo
    url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  }

  await refresh(1_000).catch(() => {})
  let stopped = false
  const router: Router = {
    node,
    peerId: node.peerId.toString(),
    url,
    api,
    reputation,
    providers,
    refresh,
    auditAgain,
    whenSettled(receiptId) {
      const id = receiptId.replace(RECEIPT_ID_PREFIX, '')
      const pending = settling.get(id)
      if (pending) return pending
      const view = receipts.view(id)
      if (view === undefined) return Promise.reject(new BadRequestError(`no receipt "${receiptId}"`))
      return Promise.resolve({ verdict: String(view.verdict), reason: String(view.reason ?? '') })
    },
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(periodic)
      journal.stop()
      offConnect()
      if (server) {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server!.close(() => resolve()))
      }
      await node.stop()
      db.close()
      await disposeModels()
    },
    [Symbol.asyncDispose]: () => router.stop(),
  }
  return router
}

/** A completion id (`chatcmpl-…`, `cmpl-…`) names the receipt of its job. */
const RECEIPT_ID_PREFIX = /^(chat)?cmpl-/

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
