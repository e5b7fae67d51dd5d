import { mkdirSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { type LoadProgress, STEPWISE_AUDIT_TRIGGER } from '@infraxa/engine'
import { createNode, type InfraxaNode, type ReachabilityOptions } from '@infraxa/p2p'
import {
  createModeRegistry,
  fraudProofMode,
  type ModeRegistry,
  merkleMode,
  type StepwiseTrigger,
} from '@infraxa/proofs/modes'
import { InfraxaError, openEnvelope } from '@infraxa/protocol'
import { zkSnarkMode } from '@infraxa/zk'
import { routerConsensus } from './consensus.js'
import { consensusMode } from './consensus-mode.js'
import { serveFraudProofs } from './court.js'
import { JobJournal } from './dashboard.js'
import { dashboardView } from './dashboard-view.js'
import { createDispatcher } from './dispatch.js'
import { type Economics, openEconomics } from './economics.js'
import { BadRequestError } from './errors.js'
import { createHttpServer, type RouterApi } from './http.js'
import { createJobRunner } from './job.js'
import { RouterMetrics } from './metrics.js'
import type { Payer, RouterPaymentOptions } from './payer.js'
import { ProviderStore } from './provider-store.js'
import { ProviderTable } from './provider-table.js'
import { auditAgain } from './re-audit.js'
import { ReceiptStore, receiptIdOf } from './receipts.js'
import { type ReputationBook as Book, ReputationBook } from './reputation.js'
import { Scheduler } from './scheduler.js'
import type { RouterChainOptions, StakeLedger } from './stake-ledger.js'
import { TokenEvidence } from './token-evidence.js'
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
  /** Addresses to announce instead of the listen addresses (a public one is otherwise announced once AutoNAT confirms it). */
  announce?: string[]
  /** @default false */
  mdns?: boolean
  /** NAT traversal: serve as a circuit relay, AutoNAT, DCUtR. @default { relay: false, autonat: true, dcutr: true } */
  reachability?: ReachabilityOptions
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
   * Also select providers on engines with no measured noise model (a GPU, another llama.cpp release),
   * compared with CROSS_BUILD_TOLERANCE: catches another model, not another quantisation. Providers on
   * another CPU build of the router's release (or other batch / attention settings) are always eligible,
   * judged with that class's measured tolerance and noise.
   * @default false
   */
  allowUnmeasuredEngines?: boolean
  /**
   * Select only providers on the router's own engine (build and pinned settings), where every check is
   * at its tightest: bit-exact quantised replay and the stepwise follow-up. @default false
   */
  sameBuildOnly?: boolean
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
   * On every other audited job of such a provider, the stepwise audit runs when the opened steps drifted
   * further than an honest prefill does: one step past `maxDelta`, or all of them past `meanDelta` on
   * average (2.5% of honest float jobs pay it; every F32 → Q8_0 job and 198–200 of 200 F32 → F16 ones
   * measured). `false`: never. @default STEPWISE_AUDIT_TRIGGER ({ maxDelta: 0.01, meanDelta: 0.003 })
   */
  stepwiseAuditTrigger?: StepwiseTrigger | false
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
  /**
   * The stake contract: selection reads each provider's bonded stake from it (`minStake`: below it,
   * never selected; unstaked: probation traffic only), fraud this router proves is taken to it (a bonded
   * accusation with the fraud proof), and, when the router's chain account is a registered adjudicator,
   * every accusation is re-executed and voted on. @default none (stake is not weighed)
   */
  chain?: RouterChainOptions
  /**
   * Pay-per-token through a channels contract on `chain`: every answer this router verified is paid at
   * the provider's price (its signed record) with a cumulative voucher; failed and pending answers never.
   * @default none (nothing paid)
   */
  payments?: RouterPaymentOptions
  /**
   * The `consensus` mode: each such request goes to `n` providers with the same seed, and the answer
   * needs `k` of them to commit to the same tokens; a dissenter is re-executed where it departs.
   * @default { n: 3, k: 2 }
   */
  consensus?: { n?: number; k?: number }
}

export interface Router extends AsyncDisposable {
  readonly node: InfraxaNode
  readonly peerId: string
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:8080` (undefined without HTTP). */
  readonly url: string | undefined
  readonly api: RouterApi
  readonly reputation: Book
  /** Per-token evidence summed over each provider's jobs (the sequential test behind grey verdicts). */
  readonly evidence: TokenEvidence
  readonly providers: ProviderTable
  /** The router's side of the stake contract, when {@link RouterOptions.chain} was given. */
  readonly stake: StakeLedger | undefined
  /** What the router pays providers, when {@link RouterOptions.payments} was given. */
  readonly payer: Payer | undefined
  /** Refresh the provider table now: connected peers, then the DHT for every verifiable model. */
  refresh(timeoutMs?: number): Promise<void>
  /**
   * Audits an earlier job again (same VRF challenge) against the provider that served it, e.g. after the
   * provider restarted or to settle a dispute. Records nothing in reputation; returns the verdict.
   */
  auditAgain(receiptId: string, signal?: AbortSignal): Promise<{ valid: boolean; reason: string }>
  /**
   * fraud_proof mode: resolves when the router's watcher has checked an optimistic answer — `verified`,
   * or `failed` with the fraud proven (the provider is then banned and, with a chain, accused on it).
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
    consensusMode({ k: options.consensus?.k ?? 2 }),
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
    ...(options.allowUnmeasuredEngines !== undefined && {
      allowUnmeasuredEngines: options.allowUnmeasuredEngines,
    }),
    ...(options.sameBuildOnly !== undefined && { sameBuildOnly: options.sameBuildOnly }),
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
    providerPaths: () => {
      const paths = { direct: 0, relayed: 0, none: 0 }
      for (const p of providers.all()) paths[node.connectionPath(p.peerId)]++
      return { direct: paths.direct, relayed: paths.relayed }
    },
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
      ...(options.announce && { announce: options.announce }),
      mdns: options.mdns ?? false,
      ...(options.reachability && { reachability: options.reachability }),
    })
  } catch (error) {
    db.close()
    await disposeModels()
    throw error
  }
  let economics: Economics
  try {
    economics = await openEconomics(options, {
      dataDir: options.dataDir,
      db,
      node,
      verifyModels,
      providers: () => providers,
    })
  } catch (error) {
    await node.stop()
    db.close()
    await disposeModels()
    throw error
  }
  const { ledger, payer, onAuditFailed, onVerified } = economics
  const providers = new ProviderTable(node, new ProviderStore(db))
  // The providers known before a restart, at once (checked again in the background).
  await providers.restore()
  await serveFraudProofs(node, { verifyModels, reputation, onFraud: economics.onCourtFraud })
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
    onAuditFailed,
    onVerified,
  })

  /**
   * Optimistic receipts still pending in the database (a restart, or a provider that could not be
   * reached yet): watched again, each once at a time, until they settle verified or failed.
   */
  const resettle = () => {
    for (const { id, envelope, provider } of receipts.pending()) {
      if (settling.has(id)) continue
      let receipt: ReturnType<typeof openEnvelope<'RECEIPT'>>['message']
      let modelHash: Uint8Array
      try {
        receipt = openEnvelope('RECEIPT', envelope, { signer: node.publicKey }).message
        modelHash = openEnvelope('INFERENCE_REQUEST', receipt.request!).message.modelHash
      } catch {
        continue
      }
      if (verifyModels.engineFor(modelHash) === undefined) continue
      const watching = watch(id, receipt, provider, modelHash)
      settling.set(id, watching)
      void watching.finally(() => settling.delete(id))
    }
  }

  const offConnect = node.on('peer:connect', (event) => {
    void providers.refresh(String((event as CustomEvent).detail))
  })
  const refresh = async (timeoutMs = 3_000) => {
    await providers.refreshConnected()
    const signal = AbortSignal.timeout(timeoutMs)
    await Promise.all(verifyModels.all.map((m) => providers.discover(m.hash, signal)))
  }
  const periodic = setInterval(() => {
    void refresh().catch(() => {})
    resettle()
  }, 15_000)
  periodic.unref()

  const evidence = new TokenEvidence(db)
  const runJob = createJobRunner({
    node,
    registry,
    receipts,
    reputation,
    evidence,
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
      stepwiseAuditTrigger: options.stepwiseAuditTrigger ?? STEPWISE_AUDIT_TRIGGER,
      ...(options.streamCheckTokens !== undefined && { streamCheckTokens: options.streamCheckTokens }),
    },
    settling,
    watch,
    metrics,
    journal,
    onAuditFailed,
    onVerified,
  })

  const { complete } = createDispatcher({
    registry,
    verifyModels,
    providers,
    reputation,
    scheduler,
    metrics,
    runJob,
    refresh,
    commitTopK,
    maxAttempts,
    queueWaitMs,
    newcomerShare: options.newcomerShare ?? 0.1,
    stake: ledger,
    consensus: routerConsensus({
      n: options.consensus?.n ?? 3,
      k: options.consensus?.k ?? 2,
      node,
      receipts,
      reputation,
      verifyModels,
      onFraud: economics.onCourtFraud,
      onVerified,
    }),
  })

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
      receipts.view(receiptIdOf(id), (request, response) => {
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
    const httpAddress = options.http ?? '127.0.0.1:8080'
    const [host, portText] = httpAddress.split(/:(?=\d+$)/)
    server = createHttpServer(api)
    try {
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject)
        server!.listen(Number(portText ?? 8080), host, () => resolve())
      })
    } catch (error) {
      // Nothing started so far may keep the process alive once createRouter has failed.
      clearInterval(periodic)
      journal.stop()
      offConnect()
      await economics.stop()
      await node.stop()
      db.close()
      await disposeModels()
      const code = (error as NodeJS.ErrnoException).code
      throw new InfraxaError(
        'ERR_HTTP_LISTEN',
        `cannot serve HTTP on ${httpAddress}: ${code === 'EADDRINUSE' ? 'the address is in use' : (error as Error).message}`,
        { details: 'Choose another --http host:port (port 0 picks a free one), or stop what holds it.' },
      )
    }
    const address = server.address() as AddressInfo
    url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  }

  await refresh(1_000).catch(() => {})
  resettle()
  let stopped = false
  const router: Router = {
    node,
    peerId: node.peerId.toString(),
    url,
    api,
    reputation,
    evidence,
    providers,
    stake: ledger,
    payer,
    refresh,
    auditAgain: (receiptId, signal) =>
      auditAgain({ node, receipts, registry, verifyModels, vrfSecretKey, auditSteps }, receiptId, signal),
    whenSettled(receiptId) {
      const id = receiptIdOf(receiptId)
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
      await economics.stop()
      await node.stop()
      db.close()
      await disposeModels()
    },
    [Symbol.asyncDispose]: () => router.stop(),
  }
  return router
}
