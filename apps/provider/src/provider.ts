import { mkdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { connectChain, loadOrCreateChainKey, openChannelsContract } from '@infraxa/chain'
import { defaultThreads, type EngineModel, type LoadProgress, loadModel } from '@infraxa/engine'
import { createNode, type FramedStream, type InfraxaNode, type ReachabilityOptions } from '@infraxa/p2p'
import { requestedPromptTokens } from '@infraxa/proofs/modes'
import { createSampler, SAMPLING_RULE_POSEIDON_GUMBEL, samplingParamsOf } from '@infraxa/proofs/sampling'
import { buildTranscript, type CommittedStep, MAX_COMMIT_TOP_K, openSteps } from '@infraxa/proofs/transcript'
import {
  AuditProofSchema,
  bytesEqual,
  type Capability,
  CapabilitySchema,
  create,
  decodeEnvelope,
  decodeMessage,
  encodeEnvelope,
  encodeMessage,
  InferenceFrameSchema,
  InferenceResponseSchema,
  InvalidArgumentError,
  openEnvelope,
  PROTOCOL_IDS,
  promptTokenHash,
  requestHash,
  signEnvelope,
  TokenChunkSchema,
} from '@infraxa/protocol'
import {
  createZkProver,
  DEFAULT_ZK_ARTIFACTS_DIR,
  DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR,
  encodeZkModeProof,
  loadZkArtifacts,
  ZK_SNARK_MODE_ID,
  type ZkArtifacts,
  type ZkProveProgress,
  type ZkProver,
  zkRootOf,
  zkWindowOpenings,
} from '@infraxa/zk'
import { hexToBytes } from 'viem'
import { Admission } from './admission.js'
import {
  BadChallengeError,
  BusyError,
  DeadlineExceededError,
  DuplicateJobError,
  InvalidPromptError,
  LimitExceededError,
  UnknownJobError,
  UnknownModelError,
  UnsupportedModeError,
  WrongProviderError,
} from './errors.js'
import { ProviderMetrics, serveMetrics } from './metrics.js'
import { type HeldVoucher, PaymentInbox, type ProviderPaymentOptions } from './payments.js'
import { type BondedStake, bondStake, type ProviderChainOptions } from './stake.js'
import { TranscriptStore } from './transcript-store.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** A model to serve: a GGUF path or `hf:` URI to load, or an already loaded engine model. */
export type ModelSource =
  | { path: string; name?: string }
  | { uri: string; name?: string }
  | { engine: EngineModel; name?: string }

/** What a provider may be asked, at most. Published in its capability record. */
export interface ProviderLimits {
  /** @default 2048 */
  maxPromptTokens?: number
  /** @default 512 */
  maxOutputTokens?: number
  /** @default 16 */
  maxCommitTopK?: number
  /**
   * Jobs decoded at once per model: sequences of one llama.cpp context, batched into one decode
   * (`--parallel`). Batched steps replay alone within the calibrated tolerances (engine
   * docs/calibration.md, "Batched decoding"), so routers select such providers, but judge them without
   * the bit-exact noise classes; jobs beyond it wait in the queue, in order. @default 1
   */
  maxConcurrentJobs?: number
  /** Jobs that may wait for a sequence per model before a request is answered ERR_BUSY. @default 32 */
  maxQueuedJobs?: number
  /** Most steps one audit may open. @default 64 */
  maxAuditSteps?: number
  /**
   * Places per model that one peer can never take (they stay open for other peers, so a flood from one
   * identity cannot lock everyone else out); at most `maxQueuedJobs`. @default a quarter of the places
   */
  reservedForOtherPeers?: number
}

export interface ProviderOptions {
  models: readonly ModelSource[]
  /** Directory for the node key and the transcript store. */
  dataDir: string
  /** @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  bootstrap?: string[]
  /** Addresses to announce instead of the listen addresses (a public one is otherwise announced once AutoNAT confirms it). */
  announce?: string[]
  /** Discover peers on the LAN with mDNS. @default false */
  mdns?: boolean
  /** NAT traversal: serve as a circuit relay, AutoNAT, DCUtR. @default { relay: false, autonat: true, dcutr: true } */
  reachability?: ReachabilityOptions
  /** CPU threads for models loaded here. @default cores − 1, 1..8 ({@link defaultThreads}) */
  threads?: number
  gpu?: false | 'auto' | 'cuda' | 'vulkan' | 'metal'
  /**
   * Stake in wei. With `chain`, the provider's slot in the stake contract is topped up to it at start
   * and the record names the slot's owner (routers read the amount from the chain); without, it is only
   * a number in the record, which routers with a chain ignore. @default 0n
   */
  stake?: bigint
  /** The chain and stake contract holding the provider's stake. @default none */
  chain?: ProviderChainOptions
  /**
   * Pay-per-token: the price published in the capability record and the channels contract routers pay
   * through (on `chain`, to its account); vouchers arrive on `/infraxa/payment/1.0.0` and are kept until
   * {@link Provider.redeemPayments}. @default none (free)
   */
  payments?: ProviderPaymentOptions
  limits?: ProviderLimits
  /** How long transcripts stay answerable for audits. @default 24 hours */
  retentionMs?: number
  onProgress?: (model: string, progress: LoadProgress) => void
  /** Progress of each zk_snark proof (after every window), by job id in hex. */
  onZkProgress?: (jobId: string, progress: ZkProveProgress) => void
  /**
   * Serve Prometheus `GET /metrics` (sequences in use, queue depth, jobs, tokens, timings) on this
   * port, on loopback unless `host` is given. Port 0 picks a free one ({@link Provider.metricsUrl}).
   */
  metrics?: { port: number; host?: string }
  /**
   * ATTACK DRILLS ONLY: serve the models under these hashes instead of their own — what a cheating
   * provider that substitutes a cheaper model does. Used by the attack suite and the demo.
   */
  dishonest?: DishonestBehaviour
}

/**
 * ATTACK DRILLS ONLY: how a cheating provider built from this app departs from the protocol. Each field
 * is one behaviour of the attack suite's test doubles; an honest provider sets none.
 */
export interface DishonestBehaviour {
  /** Serve the models under this hash instead of their own (model substitution). */
  claimModelHash?: Uint8Array
  /** Advertise this metadata instead of the model's own (a substitution that also lies about its file). */
  claimSummary?: { architecture: string; quantization: string; parameterCount: number; vocabSize: number }
  /**
   * Replace the token chosen at step t (committed as if honest); with `topK`, commit that distribution
   * at the step too (logits forged to fit the token). Return undefined to stay honest at this step.
   */
  forgeStep?: (
    t: number,
    topK: ReadonlyArray<{ id: number; logprob: number }>,
    token: number,
  ) => { token: number; topK?: Array<{ id: number; logprob: number }> } | undefined
  /** Stream another token than the one generated and committed at step t. */
  streamToken?: (t: number, token: number) => number
  /** Answer each audit only after this many milliseconds (a slow or stalling provider). */
  auditDelayMs?: number
  /**
   * zk_snark: commit these steps to the Poseidon root (and prove and open them) instead of the ones
   * committed to the SHA-256 transcript — one answer to the audits, another to the zk proof.
   */
  zkSteps?: (steps: readonly CommittedStep[]) => CommittedStep[]
  /** Sample from the whole committed top-k although the request asks for a top-p nucleus. */
  ignoreTopP?: boolean
  /** Sign responses naming this CPU build instead of the one advertised (a looser judging class claimed late). */
  responseBuild?: string
}

interface ServedModel {
  readonly hash: Uint8Array
  readonly hashHex: string
  readonly name: string
  readonly engine: EngineModel
  readonly owned: boolean
  /** Places for its jobs (decoding and queued), shared fairly between peers. */
  readonly admission: Admission
}

export interface Provider extends AsyncDisposable {
  readonly node: InfraxaNode
  readonly peerId: string
  readonly publicKey: Uint8Array
  readonly models: ReadonlyArray<{ hash: Uint8Array; hashHex: string; name: string }>
  /** Jobs served since start. */
  readonly jobsServed: number
  /** Where `GET /metrics` is served, when {@link ProviderOptions.metrics} asked for it. */
  readonly metricsUrl: string | undefined
  /** The stake slot bonded at start, when {@link ProviderOptions.chain} was given. */
  readonly stake: BondedStake | undefined
  /** The payment vouchers held, latest per channel (none without {@link ProviderOptions.payments}). */
  heldPayments(): HeldVoucher[]
  /** Closes every channel with its latest voucher: the provider is paid, the payer gets the rest. */
  redeemPayments(): Promise<Array<{ channel: string; amount: bigint; error?: string }>>
  stop(): Promise<void>
}

const SUPPORTED_MODES = ['merkle', 'fraud_proof', 'zk_snark']

/** A model's display name: given, else the GGUF file name, else `general.name`, else a hash prefix. */
function modelName(source: ModelSource, generalName: string | undefined, hashHex: string): string {
  if ('path' in source) return basename(source.path).replace(/\.gguf$/i, '')
  if ('uri' in source) return basename(source.uri).replace(/\.gguf$/i, '')
  return generalName ?? hashHex.slice(0, 12)
}

/**
 * Starts a provider: loads its models, starts a libp2p node, advertises every model hash on the DHT,
 * answers capability queries, serves `/infraxa/inference/1.0.0` (token chunks, then a signed response
 * committing to the transcript) and `/infraxa/audit/1.0.0` (openings of challenged steps, from a store
 * that survives restarts).
 *
 * @example
 * const provider = await createProvider({ models: [{ path: 'model.gguf' }], dataDir: './provider-data' })
 */
export async function createProvider(options: ProviderOptions): Promise<Provider> {
  if (options.models.length === 0) throw new InvalidArgumentError('createProvider: give at least one model')
  const limits = {
    maxPromptTokens: options.limits?.maxPromptTokens ?? 2048,
    maxOutputTokens: options.limits?.maxOutputTokens ?? 512,
    maxCommitTopK: Math.min(options.limits?.maxCommitTopK ?? 16, MAX_COMMIT_TOP_K),
    maxConcurrentJobs: options.limits?.maxConcurrentJobs ?? 1,
    maxQueuedJobs: options.limits?.maxQueuedJobs ?? 32,
    maxAuditSteps: options.limits?.maxAuditSteps ?? 64,
    reservedForOtherPeers: options.limits?.reservedForOtherPeers,
  }
  mkdirSync(options.dataDir, { recursive: true })
  const served: ServedModel[] = []
  const cleanup = async () => {
    for (const m of served) if (m.owned) await m.engine.dispose()
  }
  try {
    for (const source of options.models) {
      let engine: EngineModel
      let owned = true
      if ('engine' in source) {
        engine = source.engine
        owned = false
      } else {
        const label = 'path' in source ? source.path : source.uri
        engine = await loadModel({
          ...('path' in source ? { path: source.path } : { uri: source.uri }),
          threads: options.threads ?? defaultThreads(),
          gpu: options.gpu ?? false,
          parallel: limits.maxConcurrentJobs,
          ...(options.onProgress && { onProgress: (p: LoadProgress) => options.onProgress!(label, p) }),
        })
      }
      const identity = await engine.identity()
      const hash = options.dishonest?.claimModelHash ?? identity.hash
      const name = source.name ?? modelName(source, identity.name, identity.hashHex)
      served.push({
        hash,
        hashHex: hex(hash),
        name,
        engine,
        owned,
        admission: new Admission(engine.parallel, limits.maxQueuedJobs, limits.reservedForOtherPeers),
      })
    }
  } catch (error) {
    await cleanup()
    throw error
  }

  const db = new DatabaseSync(join(options.dataDir, 'provider.sqlite'))
  // WAL, synced at checkpoints: a write survives a crash of the process, without an fsync per job.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL')
  const store = new TranscriptStore(db, options.retentionMs)
  store.prune()
  const pruning = setInterval(() => store.prune(), 10 * 60_000)
  pruning.unref()
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
    await cleanup()
    throw error
  }
  let bonded: BondedStake | undefined
  let inbox: PaymentInbox | undefined
  if (options.payments !== undefined && options.chain === undefined) {
    await node.stop()
    db.close()
    await cleanup()
    throw new InvalidArgumentError('createProvider: payments need a chain (options.chain)')
  }
  if (options.chain !== undefined) {
    try {
      // One chain account for the stake slot and the payment channels.
      const connection = await connectChain(
        options.chain.endpoint,
        options.chain.privateKey ?? loadOrCreateChainKey(options.dataDir),
      )
      bonded = await bondStake(connection, options.chain.contract, node.publicKey, options.stake ?? 0n)
      if (options.payments !== undefined) {
        inbox = new PaymentInbox(db, await openChannelsContract(connection, options.payments.contract))
      }
    } catch (error) {
      await node.stop()
      db.close()
      await cleanup()
      throw error
    }
  }
  let jobsServed = 0
  /** The steps committed to the zk root: the transcript's (ATTACK DRILLS: `dishonest.zkSteps` others). */
  const zkStepsOf = (steps: readonly CommittedStep[]) => options.dishonest?.zkSteps?.(steps) ?? steps
  // The zk circuits (greedy, and sampled for temperature > 0), their artifacts and provers load on the
  // first zk_snark request that needs them.
  const circuits = new Map<boolean, { artifacts: ZkArtifacts; prover?: ZkProver }>()
  const zkCircuit = (sampled: boolean) => {
    let c = circuits.get(sampled)
    if (c === undefined) {
      c = {
        artifacts: loadZkArtifacts(sampled ? DEFAULT_ZK_SAMPLED_ARTIFACTS_DIR : DEFAULT_ZK_ARTIFACTS_DIR),
      }
      circuits.set(sampled, c)
    }
    return c
  }
  const zkArtifacts = (sampled: boolean) => zkCircuit(sampled).artifacts
  const zkProver = (sampled: boolean) => {
    const c = zkCircuit(sampled)
    c.prover ??= createZkProver({ artifacts: c.artifacts })
    return c.prover
  }

  const capability = (): Capability => {
    const active = served.reduce((n, m) => n + m.admission.active, 0)
    const slots = served.length * limits.maxConcurrentJobs
    return create(CapabilitySchema, {
      models: served.map((m) => ({
        modelHash: m.hash,
        name: m.name,
        architecture: options.dishonest?.claimSummary?.architecture ?? m.engine.summary.architecture,
        quantization: options.dishonest?.claimSummary?.quantization ?? m.engine.summary.quantization,
        parameterCount: BigInt(
          options.dishonest?.claimSummary?.parameterCount ?? m.engine.summary.parameterCount,
        ),
        contextLength: m.engine.contextSize,
        vocabSize: options.dishonest?.claimSummary?.vocabSize ?? m.engine.vocabSize,
        engine: { ...m.engine.engineInfo },
        maxConcurrentJobs: m.engine.parallel,
        activeJobs: Math.min(m.admission.active, m.engine.parallel),
        queuedJobs: Math.max(0, m.admission.active - m.engine.parallel),
        maxQueuedJobs: limits.maxQueuedJobs,
      })),
      verificationModes: SUPPORTED_MODES,
      maxPromptTokens: limits.maxPromptTokens,
      maxOutputTokens: limits.maxOutputTokens,
      maxCommitTopK: limits.maxCommitTopK,
      stake: bonded?.amount ?? options.stake ?? 0n,
      ...(bonded !== undefined && { stakeOwner: hexToBytes(bonded.owner) }),
      pricePer1kTokens: options.payments?.pricePer1kTokens ?? 0n,
      // Above 1000 when jobs queue.
      loadPermille: Math.round((1000 * active) / slots),
      issuedAtMs: BigInt(Date.now()),
      expiresAtMs: BigInt(Date.now() + 60_000),
    })
  }
  await node.setCapability(capability)
  const metrics = new ProviderMetrics(() =>
    served.map((m) => ({
      name: m.name,
      activeSequences: Math.min(m.admission.active, m.engine.parallel),
      queuedJobs: Math.max(0, m.admission.active - m.engine.parallel),
      maxSequences: m.engine.parallel,
      maxQueuedJobs: limits.maxQueuedJobs,
    })),
  )
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined
  if (options.metrics) {
    try {
      metricsServer = await serveMetrics(metrics, options.metrics)
    } catch (error) {
      await node.stop()
      db.close()
      await cleanup()
      throw new InvalidArgumentError(
        `cannot serve metrics on ${options.metrics.host ?? '127.0.0.1'}:${options.metrics.port}: ${(error as Error).message}`,
      )
    }
  }

  await node.handle(
    PROTOCOL_IDS.inference,
    async (stream) => {
      const job: { model?: string; counted?: boolean } = {}
      try {
        await serveInference(stream, job)
      } catch (error) {
        if (!job.counted) metrics.job(job.model ?? 'unknown', error instanceof BusyError ? 'busy' : 'refused')
        throw error
      }
    },
    { readTimeoutMs: 10_000, writeTimeoutMs: 30_000 },
  )
  await node.handle(
    PROTOCOL_IDS.audit,
    async (stream) => {
      try {
        if (options.dishonest?.auditDelayMs !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, options.dishonest?.auditDelayMs))
        }
        const answer = await serveAudit(stream)
        metrics.audit('answered')
        return answer
      } catch (error) {
        metrics.audit('refused')
        throw error
      }
    },
    { readTimeoutMs: 10_000 },
  )
  for (const m of served) {
    node.advertise(m.hash).catch(() => {
      // No DHT peer yet: the node re-provides periodically and on new connections.
    })
  }

  async function serveInference(
    stream: FramedStream,
    job: { model?: string; counted?: boolean },
  ): Promise<void> {
    const frame = await stream.read()
    if (frame === null) return
    const requestEnvelope = decodeEnvelope(frame)
    const { message: request } = openEnvelope('INFERENCE_REQUEST', requestEnvelope)
    if (request.providerPublicKey.length > 0 && !bytesEqual(request.providerPublicKey, node.publicKey)) {
      throw new WrongProviderError()
    }
    if (BigInt(Date.now()) > request.deadlineMs) throw new DeadlineExceededError()
    const model = served.find((m) => bytesEqual(m.hash, request.modelHash))
    if (model === undefined) throw new UnknownModelError(hex(request.modelHash))
    job.model = model.name
    if (!SUPPORTED_MODES.includes(request.verificationMode)) {
      throw new UnsupportedModeError(request.verificationMode, SUPPORTED_MODES)
    }
    const k = request.commitTopK
    if (k < 1 || k > limits.maxCommitTopK)
      throw new LimitExceededError(`commit_top_k must be 1..${limits.maxCommitTopK}`)
    const maxTokens = request.sampling?.maxTokens ?? 0
    if (maxTokens < 1 || maxTokens > limits.maxOutputTokens) {
      throw new LimitExceededError(`max_tokens must be 1..${limits.maxOutputTokens}`)
    }
    const topP = request.sampling?.topP ?? 0
    if (!(topP >= 0 && topP <= 1)) throw new LimitExceededError('top_p must be 0..1')
    if (request.jobId.length < 8 || request.jobId.length > 64)
      throw new LimitExceededError('job id must be 8..64 bytes')
    const zk = request.verificationMode === ZK_SNARK_MODE_ID
    const zkSampled = zk && (request.sampling?.temperature ?? 0) > 0
    if (zk) {
      if (
        zkSampled &&
        (request.sampling?.rule !== SAMPLING_RULE_POSEIDON_GUMBEL || (topP !== 0 && topP !== 1))
      ) {
        throw new UnsupportedModeError(
          'zk_snark with temperature > 0 needs sampling rule SAMPLING_RULE_POSEIDON_GUMBEL and no top_p (the rule the circuit proves)',
          SUPPORTED_MODES,
        )
      }
      if (k !== zkArtifacts(zkSampled).topK)
        throw new LimitExceededError(`zk_snark needs commit_top_k = ${zkArtifacts(zkSampled).topK}`)
    }
    if (store.get(request.jobId) !== undefined) throw new DuplicateJobError()
    // A burst waits in the engine's queue (in order, batched as sequences free up); only a full queue,
    // or a peer past its share of it, is busy.
    const release = model.admission.enter(stream.remotePeer.toString())
    try {
      // Chat messages under the model's template, or a text completion's raw prompt: the verifier
      // tokenizes the signed request the same way (requestedPromptTokens).
      const prompt = await requestedPromptTokens(model.engine, request)
      if (prompt !== undefined && 'error' in prompt) throw new InvalidPromptError(prompt.error)
      const promptTokens = prompt?.tokens ?? []
      if (promptTokens.length > limits.maxPromptTokens) {
        throw new LimitExceededError(
          `prompt of ${promptTokens.length} tokens exceeds ${limits.maxPromptTokens}`,
        )
      }
      // Clamped: timers overflow past 2^31 - 1 ms (a far deadline would otherwise fire at once).
      const deadline = AbortSignal.timeout(
        Math.min(2 ** 31 - 1, Math.max(1, Number(request.deadlineMs - BigInt(Date.now())))),
      )
      const forgedTopK = new Map<number, Array<{ id: number; logprob: number }>>()
      const params = samplingParamsOf(request.sampling)
      // ATTACK DRILLS: the whole top-k although a nucleus was asked for.
      const sampling = options.dishonest?.ignoreTopP
        ? { temperature: params.temperature, seed: params.seed }
        : params
      const generation = model.engine.generate({
        promptTokens,
        maxTokens,
        stop: request.sampling?.stop ?? [],
        topK: k,
        choose: withForgery(createSampler(sampling), options.dishonest?.forgeStep, forgedTopK),
        signal: AbortSignal.any([deadline, stream.signal]),
      })
      for await (const step of generation) {
        const chunk = create(TokenChunkSchema, {
          jobId: request.jobId,
          step: step.t,
          token: options.dishonest?.streamToken?.(step.t, step.token) ?? step.token,
        })
        await stream.write(
          encodeMessage(
            'INFERENCE_FRAME',
            create(InferenceFrameSchema, { frame: { case: 'chunk', value: chunk } }),
          ),
        )
      }
      const result = await generation.result
      const transcript = buildTranscript(
        request.jobId,
        forgedTopK.size === 0
          ? result.steps
          : result.steps.map((step) => ({ ...step, topK: forgedTopK.get(step.t) ?? step.topK })),
      )
      const response = create(InferenceResponseSchema, {
        jobId: request.jobId,
        requestHash: requestHash(requestEnvelope),
        modelHash: model.hash,
        engine: {
          ...model.engine.engineInfo,
          ...(options.dishonest?.responseBuild && { build: options.dishonest.responseBuild }),
        },
        promptTokens: result.promptTokens,
        promptTokenHash: promptTokenHash(result.promptTokens),
        outputTokens: result.outputTokens,
        transcriptRoot: transcript.root,
        ...(zk && {
          zkRoot: zkRootOf({
            jobId: request.jobId,
            steps: zkStepsOf(transcript.steps),
            windowSize: zkArtifacts(zkSampled).windowSize,
            topK: zkArtifacts(zkSampled).topK,
          }),
        }),
        stepCount: result.outputTokens.length,
        commitTopK: k,
        finishReason: result.finishReason,
        timings: {
          queueMs: Math.round(result.timings.queueMs),
          promptMs: Math.round(result.timings.promptMs),
          generateMs: Math.round(result.timings.generateMs),
          totalMs: Math.round(result.timings.totalMs),
        },
      })
      const responseEnvelope = signEnvelope('INFERENCE_RESPONSE', response, node.signer)
      // Stored before the response leaves, so an audit can never arrive for a job we do not hold.
      store.put({
        jobId: request.jobId,
        modelHash: model.hash,
        request: encodeEnvelope(requestEnvelope),
        response: encodeEnvelope(responseEnvelope),
        steps: transcript.steps,
        createdAt: Date.now(),
      })
      jobsServed++
      metrics.job(model.name, 'served')
      job.counted = true
      metrics.generated(
        model.name,
        result.outputTokens.length,
        result.timings.queueMs,
        result.timings.promptMs + result.timings.generateMs,
      )
      await stream.write(
        encodeMessage(
          'INFERENCE_FRAME',
          create(InferenceFrameSchema, { frame: { case: 'response', value: responseEnvelope } }),
        ),
      )
      if (zk) {
        // The answer is out; the proof follows (proved in a child process: this node keeps serving).
        const { proof } = await zkProver(zkSampled).proveTranscript({
          jobId: request.jobId,
          steps: zkStepsOf(transcript.steps),
          ...(zkSampled && { sampling: { temperature: params.temperature, seed: params.seed } }),
          ...(options.onZkProgress && {
            onProgress: (p: ZkProveProgress) => options.onZkProgress!(hex(request.jobId), p),
          }),
        })
        const envelope = decodeEnvelope(encodeZkModeProof(proof, node.signer))
        await stream.write(
          encodeMessage(
            'INFERENCE_FRAME',
            create(InferenceFrameSchema, { frame: { case: 'zkProof', value: envelope } }),
          ),
        )
      }
    } catch (error) {
      if (!job.counted && !(error instanceof LimitExceededError)) {
        metrics.job(model.name, 'failed')
        job.counted = true
      }
      throw error
    } finally {
      release()
    }
  }

  async function serveAudit(stream: FramedStream): Promise<Uint8Array | undefined> {
    const frame = await stream.read()
    if (frame === null) return undefined
    const challengeEnvelope = decodeEnvelope(frame)
    const { message: challenge } = openEnvelope('AUDIT_CHALLENGE', challengeEnvelope)
    const job = store.get(challenge.jobId)
    if (job === undefined) throw new UnknownJobError()
    const jobRequest = decodeEnvelope(job.request)
    if (!bytesEqual(jobRequest.publicKey, challengeEnvelope.publicKey)) {
      throw new BadChallengeError('only the router that sent the job may audit it')
    }
    const { message: response } = openEnvelope('INFERENCE_RESPONSE', decodeEnvelope(job.response))
    if (!bytesEqual(challenge.transcriptRoot, response.transcriptRoot)) {
      throw new BadChallengeError('challenge names another transcript root')
    }
    if (challenge.steps.length > limits.maxAuditSteps) {
      throw new BadChallengeError(`at most ${limits.maxAuditSteps} steps per audit`)
    }
    if (
      challenge.steps.some((s) => s >= job.steps.length) ||
      new Set(challenge.steps).size !== challenge.steps.length
    ) {
      throw new BadChallengeError('challenged steps are out of range or repeated')
    }
    const transcript = buildTranscript(challenge.jobId, job.steps)
    const opened =
      challenge.steps.length === 0 ? { openings: [], siblings: [] } : openSteps(transcript, challenge.steps)
    const proof = create(AuditProofSchema, {
      jobId: challenge.jobId,
      transcriptRoot: transcript.root,
      stepCount: job.steps.length,
      openings: opened.openings.map((o) => ({
        step: o.step,
        token: o.token,
        topIds: [...o.topIds],
        topLogprobs: [...o.topLogprobs],
      })),
      siblings: [...opened.siblings],
      // A zk_snark job: the Poseidon leaves of each opened step's window (one answer, one truth).
      ...(response.zkRoot.length === 32 && {
        zkWindows: zkWindowOpenings(
          zkStepsOf(job.steps),
          challenge.steps,
          zkArtifacts((decodeMessage('INFERENCE_REQUEST', jobRequest.payload).sampling?.temperature ?? 0) > 0)
            .windowSize,
        ).map((z) => ({
          step: z.step,
          leaves: [...z.leaves],
        })),
      }),
    })
    return encodeEnvelope(signEnvelope('AUDIT_PROOF', proof, node.signer))
  }

  if (inbox !== undefined) {
    const payments = inbox
    await node.handle(
      PROTOCOL_IDS.payment,
      async (stream) => {
        const frame = await stream.read()
        if (frame === null) return undefined
        return payments.accept(decodeEnvelope(frame))
      },
      { readTimeoutMs: 10_000, maxFrameBytes: 16 * 1024, rateLimit: { burst: 64, perSecond: 32 } },
    )
  }

  let stopped = false
  const provider: Provider = {
    node,
    peerId: node.peerId.toString(),
    publicKey: node.publicKey,
    models: served.map(({ hash, hashHex, name }) => ({ hash, hashHex, name })),
    get jobsServed() {
      return jobsServed
    },
    metricsUrl: metricsServer?.url,
    stake: bonded,
    heldPayments: () => inbox?.held() ?? [],
    redeemPayments: async () => (inbox === undefined ? [] : inbox.redeem()),
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(pruning)
      await metricsServer?.close()
      await node.stop()
      await Promise.all([...circuits.values()].map((c) => c.prover?.close()))
      db.close()
      await cleanup()
    },
    [Symbol.asyncDispose]: () => provider.stop(),
  }
  return provider
}

/** The sampler, or (attack drills) the forgery's choice where it makes one, noting forged distributions. */
function withForgery(
  choose: (topK: ReadonlyArray<{ id: number; logprob: number }>, t: number) => number,
  forge: DishonestBehaviour['forgeStep'],
  forgedTopK: Map<number, Array<{ id: number; logprob: number }>>,
): (topK: ReadonlyArray<{ id: number; logprob: number }>, t: number) => number {
  if (forge === undefined) return choose
  return (topK, t) => {
    const honest = choose(topK, t)
    const forged = forge(t, topK, honest)
    if (forged === undefined) return honest
    if (forged.topK) forgedTopK.set(t, forged.topK)
    return forged.token
  }
}
