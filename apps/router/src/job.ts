import { randomBytes } from 'node:crypto'
import type { EngineModel } from '@infraxa/engine'
import type { InfraxaNode } from '@infraxa/p2p'
import { TOKEN_CHECK_EXTRA, type TokenVerdict, type Tolerance, vrfPublicKey } from '@infraxa/proofs/audit'
import {
  type Executor,
  FRAUD_PROOF_MODE_ID,
  MERKLE_MODE_ID,
  type ModeRegistry,
  type StepwiseTrigger,
} from '@infraxa/proofs/modes'
import { samplingParamsOf } from '@infraxa/proofs/sampling'
import {
  bytesEqual,
  create,
  decodeMessage,
  encodeEnvelope,
  InferenceRequestSchema,
  InfraxaError,
  openEnvelope,
  PROTOCOL_IDS,
  ReceiptSchema,
  RemoteError,
  SamplingRule,
  type SignedEnvelope,
  signEnvelope,
} from '@infraxa/protocol'
import { checkZkAudit, ZK_SNARK_MODE_ID } from '@infraxa/zk'
import { answerLogprobs } from './answer-logprobs.js'
import { AnswerStream, type Release, type Resume } from './answer-stream.js'
import { fetchAuditProof, signAuditChallenge } from './audit-request.js'
import type { JobJournal } from './dashboard.js'
import type { CompletionReceipt, CompletionRequest, CompletionResult } from './http.js'
import type { RouterMetrics } from './metrics.js'
import type { ProviderTable } from './provider-table.js'
import { type ReceiptStore, tokenCheckMessage } from './receipts.js'
import type { ReputationBook } from './reputation.js'
import { auditAfterStream } from './stream-cache-executor.js'
import type { TokenEvidence } from './token-evidence.js'
import { sameEngineClaims, type VerifyModels } from './verify-models.js'
import type { AuditFailedHook } from './watcher.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export interface JobSettings {
  auditSteps: number
  auditRate: number
  jobTimeoutMs: number
  commitTopK: number
  challengeWindowMs: number
  streamCheckTokens?: number
  /** Share of audited jobs whose opened steps are also re-executed stepwise (bit-exact). */
  stepwiseAuditRate: number
  /** Otherwise, the opened steps' prefill drift past which they are re-executed stepwise all the same. */
  stepwiseAuditTrigger: StepwiseTrigger | false
}

export interface JobDeps {
  node: InfraxaNode
  registry: ModeRegistry
  receipts: ReceiptStore
  reputation: ReputationBook
  /** Per-token evidence summed over each provider's jobs (the sequential test behind grey). */
  evidence: TokenEvidence
  providers: ProviderTable
  verifyModels: VerifyModels
  vrfSecretKey: Uint8Array
  settings: JobSettings
  /** Optimistic answers being settled, by receipt id. */
  settling: Map<string, Promise<{ verdict: string; reason: string }>>
  watch: (
    jobHex: string,
    receipt: ReturnType<typeof create<typeof ReceiptSchema>>,
    providerId: string,
    modelHash: Uint8Array,
  ) => Promise<{ verdict: string; reason: string }>
  metrics: Pick<RouterMetrics, 'job' | 'audited' | 'verification' | 'stepwiseAudit'>
  /** Told when each job starts and ends (the dashboard's recent jobs). */
  journal?: Pick<JobJournal, 'started' | 'ended'>
  /** Told (not awaited) of each audit that failed: the stake contract's turn. */
  onAuditFailed?: AuditFailedHook
  /** Told of each verified answer and its tokens (prompt + output): what a provider is paid for. */
  onVerified?: (providerId: string, jobHex: string, tokens: number) => void
}

/**
 * One job on one provider, the pipeline of a completion: sign the request, stream the answer (tokens
 * only; text made and released by {@link AnswerStream}), check the signed response commits to the
 * streamed tokens and the requested prompt, verify it per its mode (audit with the per-token verdict,
 * mode proof, or optimistic settlement by the watcher), sign a receipt and record the outcome.
 */
export function createJobRunner({
  node,
  registry,
  receipts,
  reputation,
  evidence,
  providers,
  verifyModels,
  vrfSecretKey,
  settings,
  settling,
  watch,
  metrics,
  journal,
  onAuditFailed,
  onVerified,
}: JobDeps) {
  const { auditSteps, auditRate, jobTimeoutMs, commitTopK, challengeWindowMs } = settings
  const routerVrfKey = vrfPublicKey(vrfSecretKey)

  /** A failed job: its signed receipt kept, the provider banned, counted; returns the error to throw. */
  function failed(
    jobHex: string,
    receipt: ReturnType<typeof create<typeof ReceiptSchema>>,
    providerId: string,
  ): VerificationFailed {
    receipts.put(jobHex, signEnvelope('RECEIPT', receipt, node.signer), providerId, 'failed')
    metrics.job('failed')
    reputation.record(providerId, 'failed_audit', { jobId: jobHex, reason: receipt.reason })
    return new VerificationFailed(providerId, receipt.reason, jobHex)
  }

  type JobArgs = Parameters<typeof runOne>[0]

  /** {@link runOne}, with its start and end told to the journal. */
  return async function runJob(args: JobArgs): Promise<CompletionResult> {
    const jobId = new Uint8Array(randomBytes(16))
    const jobHex = hex(jobId)
    journal?.started({
      id: jobHex,
      model: args.modelName,
      mode: args.request.verification,
      provider: args.providerId,
    })
    try {
      const result = await runOne(args, jobId)
      journal?.ended(jobHex, {
        status: result.receipt.verdict,
        completionTokens: result.completionTokens,
      })
      return result
    } catch (error) {
      journal?.ended(jobHex, {
        status: error instanceof VerificationFailed ? 'failed' : args.signal.aborted ? 'cancelled' : 'error',
        reason: error instanceof InfraxaError ? error.shortMessage : String(error),
      })
      throw error
    }
  }

  async function runOne(
    args: {
      request: CompletionRequest
      modelHash: Uint8Array
      modelName: string
      providerId: string
      providerKey: Uint8Array
      /** The router's copy of the model, and the prompt as it tokenizes the request's messages or text. */
      engine: EngineModel
      promptTokens: readonly number[]
      onText: ((text: string) => void) | undefined
      signal: AbortSignal
      /**
       * What of this request's answer reached the client (set by the attempt that sent it): a retry
       * elsewhere must reproduce that part, and sends only the rest.
       */
      delivered: { sent?: Resume | undefined }
    },
    jobId: Uint8Array,
  ): Promise<CompletionResult> {
    const { request: req, providerId } = args
    const rep = reputation.get(providerId)
    const started = performance.now()
    const jobHex = hex(jobId)
    const requestMessage = create(InferenceRequestSchema, {
      jobId,
      modelHash: args.modelHash,
      messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
      prompt: req.prompt ?? '',
      sampling: {
        temperature: req.temperature,
        seed: req.seed,
        maxTokens: req.maxTokens,
        stop: [...req.stop],
        topP: req.topP ?? 0,
        // zk_snark proves sampled tokens under the Poseidon-Gumbel rule (integers, circuit-friendly).
        ...(req.verification === ZK_SNARK_MODE_ID &&
          req.temperature > 0 && { rule: SamplingRule.POSEIDON_GUMBEL }),
      },
      commitTopK,
      verificationMode: req.verification,
      routerNonce: new Uint8Array(randomBytes(32)),
      deadlineMs: BigInt(Date.now() + jobTimeoutMs),
      providerPublicKey: args.providerKey,
      vrfPublicKey: routerVrfKey,
    })
    const requestEnvelope = signEnvelope('INFERENCE_REQUEST', requestMessage, node.signer)
    // Providers on probation are audited before anything reaches the client (the optimistic mode answers
    // at once); otherwise a streaming client gets text a chunk behind the router's re-execution, or as it
    // comes when it asked for live streaming.
    const optimistic = req.verification === FRAUD_PROOF_MODE_ID
    const release: Release =
      args.onText === undefined || (rep.onProbation && !optimistic)
        ? 'held'
        : req.streamMode === 'live'
          ? 'live'
          : 'verified'
    const engine = args.engine
    // Before the signed response names the provider's engine, its capability offer does (the same claim).
    const offered = providers.serving(args.modelHash).find((p) => p.provider.peerId === providerId)?.offer
    const streamTolerance = verifyModels.toleranceFor(args.modelHash, offered?.engine)
    const streamNoise = verifyModels.noiseFor(args.modelHash, offered?.engine)
    const stopStream = new AbortController()
    const answer = new AnswerStream({
      engine,
      promptTokens: args.promptTokens,
      stop: req.stop,
      sampling: samplingParamsOf(requestMessage.sampling),
      k: commitTopK,
      drift: streamTolerance.maxLogprobDelta,
      noise: streamNoise,
      release,
      maxTokens: req.maxTokens,
      ...(settings.streamCheckTokens !== undefined && { chunkTokens: settings.streamCheckTokens }),
      ...(args.delivered.sent && { resume: args.delivered.sent }),
      ...(args.onText && {
        onText: (text: string) => {
          args.delivered.sent = answer.sent
          args.onText!(text)
        },
      }),
      onFailure: () => stopStream.abort(),
    })
    let responseEnvelope: SignedEnvelope | undefined
    // When token frames came in: the provider's speed apart from the job's length (latency.ts).
    let firstTokenAt: number | undefined
    let lastTokenAt = 0
    let modeProofBytes: Uint8Array | undefined
    const signal = AbortSignal.any([args.signal, AbortSignal.timeout(jobTimeoutMs), stopStream.signal])
    try {
      for await (const frame of node.requestStream(
        providerId,
        PROTOCOL_IDS.inference,
        encodeEnvelope(requestEnvelope),
        {
          signal,
          readTimeoutMs: Math.min(jobTimeoutMs, 60_000),
        },
      )) {
        const decoded = decodeMessage('INFERENCE_FRAME', frame).frame
        if (decoded.case === 'chunk') {
          if (!bytesEqual(decoded.value.jobId, jobId))
            throw new InfraxaError('ERR_PROTOCOL_VIOLATION', 'provider streamed a chunk of another job')
          answer.push(decoded.value.step, decoded.value.token)
          const at = performance.now()
          firstTokenAt ??= at
          lastTokenAt = at
        } else if (decoded.case === 'response') {
          responseEnvelope = decoded.value
        } else if (decoded.case === 'zkProof') {
          modeProofBytes = encodeEnvelope(decoded.value)
        } else if (decoded.case === 'error') {
          throw new RemoteError(decoded.value)
        }
      }
    } catch (error) {
      // A failed stream check stopped the stream: that failure is the verdict, not the abort.
      if (answer.failure === undefined || args.signal.aborted) throw error
    }
    await answer.finish()
    if (answer.failure !== undefined) {
      // Stopped before any response: the receipt holds the request and the reason.
      const receipt = create(ReceiptSchema, {
        jobId,
        request: requestEnvelope,
        verificationMode: req.verification,
        verdict: 'failed',
        reason: `streamed tokens failed the router's re-execution: ${answer.failure}`,
        issuedAtMs: BigInt(Date.now()),
        streaming: release === 'held' ? '' : release,
        tokenCheck: tokenCheckMessage(answer.verdict()),
      })
      throw failed(jobHex, receipt, providerId)
    }
    if (responseEnvelope === undefined)
      throw new InfraxaError('ERR_NO_RESPONSE', 'provider closed the stream without a response')
    const generatedMs = performance.now() - started

    const mode = registry.get(req.verification)
    const executor = verifyModels.engineFor(args.modelHash)
    // Audits cover model execution in every mode but the optimistic one (whose watcher audits later);
    // a router without the model can still check a mode proof (zk), not the execution.
    const audit = !optimistic && executor !== undefined && (rep.onProbation || Math.random() < auditRate)
    let verdict = 'unaudited' as CompletionReceipt['verdict']
    let reason = ''
    let challengeEnvelope: SignedEnvelope | undefined
    let auditProofEnvelope: SignedEnvelope | undefined
    let audited = 0
    const { message: response } = openEnvelope('INFERENCE_RESPONSE', responseEnvelope, {
      signer: args.providerKey,
    })
    const tolerance = verifyModels.toleranceFor(args.modelHash, response.engine)
    const verifyStarted = performance.now()
    const fail = (why: string) => {
      verdict = 'failed'
      reason = why
    }
    /** Steps that may show the failure alone (a fraud proof for the stake contract), most telling first. */
    const evidenceSteps: number[] = []
    const evidenceAt = (steps: readonly number[]) => {
      for (const step of steps) if (!evidenceSteps.includes(step)) evidenceSteps.push(step)
    }
    // The signed commitment must hold exactly the tokens streamed, and the prompt the router asked for.
    if (!sameTokens(response.outputTokens, answer.tokens)) {
      fail(
        `the signed response commits to other tokens than the ${answer.tokens.length} streamed (${response.outputTokens.length} committed)`,
      )
    } else if (!sameTokens(response.promptTokens, args.promptTokens)) {
      fail('prompt tokens are not the requested prompt as the model tokenizes it')
      // Any opened step carries the signed prompt tokens: the adjudicator sees the tampering.
      evidenceAt(response.stepCount > 0 ? [0] : [])
    } else if (offered?.engine && !sameEngineClaims(offered.engine, response.engine)) {
      // The offer chose how the job is judged; a response may not name another engine after the fact
      // (e.g. another build, for a looser tolerance in later audits and fraud checks).
      fail('the signed response names another engine than the provider advertised')
    }
    // Verified streaming scored every token; its verdict stands beside the audit of the commitment.
    let tokenCheck = release === 'verified' ? answer.verdict() : undefined
    if (tokenCheck?.verdict === 'fail') {
      fail(tokenCheck.reason)
      evidenceAt(tokenCheck.suspectSteps)
    }
    const tokenNoise =
      release === 'verified' ? undefined : verifyModels.noiseFor(args.modelHash, response.engine)
    if (!optimistic && mode.id !== MERKLE_MODE_ID && verdict !== 'failed') {
      // Modes with their own proof (zk_snark, third-party modes): the proof came after the response.
      const result = await mode.verify(
        {
          request: requestEnvelope,
          response: responseEnvelope,
          ...(modeProofBytes && { modeProof: modeProofBytes }),
        },
        { ...(executor && { executor }), tolerance },
      )
      if (result.valid) verdict = 'verified'
      else fail(result.reason)
    }
    if (audit && verdict !== 'failed') {
      // The router's own job id, whatever the response claims (the mode checks the binding).
      const challenge = signAuditChallenge(node, vrfSecretKey, { ...response, jobId }, auditSteps)
      challengeEnvelope = challenge.envelope
      try {
        auditProofEnvelope = await fetchAuditProof(node, providerId, challengeEnvelope, args.signal)
      } catch (error) {
        // The client went away: no verdict, and nothing held against the provider.
        if (args.signal.aborted) throw error
        // Refusing or failing an audit counts as failing it.
        if (error instanceof InfraxaError) fail(`audit not answered: ${error.shortMessage}`)
        else throw error
      }
      if (auditProofEnvelope !== undefined) {
        // On a random share of jobs (the provider cannot tell which), and on every job whose opened steps
        // drifted further than an honest prefill does, the opened steps are re-executed stepwise too and
        // must match bit for bit: a cheat that left every token unchanged shows there.
        const exactTolerance = verifyModels.exactAuditFor(args.modelHash, response.engine)
        let exactAudit: { tolerance: Tolerance; trigger?: StepwiseTrigger } | undefined
        if (exactTolerance !== undefined) {
          if (Math.random() < settings.stepwiseAuditRate) exactAudit = { tolerance: exactTolerance }
          else if (settings.stepwiseAuditTrigger !== false)
            exactAudit = { tolerance: exactTolerance, trigger: settings.stepwiseAuditTrigger }
        }
        const auditProof = auditProofEnvelope
        const verifyAudit = (auditor: Executor) =>
          registry.get(MERKLE_MODE_ID).verify(
            {
              request: requestEnvelope,
              response: responseEnvelope,
              challenge: challenge.envelope,
              auditProof,
            },
            {
              executor: auditor,
              tolerance,
              minAuditSteps: Math.min(auditSteps, response.stepCount),
              ...(tokenNoise && { tokenNoise }),
              ...(exactAudit && { exactAudit }),
            },
          )
        // After verified streaming the answer is in the engine's cache: the opened steps cost a token each
        // (a failure there is re-audited as any other verifier evaluates it before it counts).
        const result =
          release === 'verified'
            ? await auditAfterStream(executor!, verifyAudit)
            : await verifyAudit(executor!)
        if (result.details?.stepwiseAudit === true)
          metrics.stepwiseAudit(exactAudit?.trigger === undefined ? 'random' : 'triggered')
        tokenCheck = (result.details?.tokenCheck as TokenVerdict | undefined) ?? tokenCheck
        // zk_snark: the steps the audit opened under the SHA-256 root must be the ones the zk proof covers.
        const zkBound =
          result.valid && req.verification === ZK_SNARK_MODE_ID && modeProofBytes !== undefined
            ? checkZkAudit({
                proof: modeProofBytes,
                auditProof: auditProofEnvelope,
                response,
                providerKey: args.providerKey,
              })
            : { ok: true as const }
        if (result.valid && !zkBound.ok) fail(zkBound.reason)
        else if (result.valid) verdict = 'verified'
        else {
          fail(result.reason)
          // The steps whose token the router's sampler would not pick first, then the audited ones.
          evidenceAt([...(tokenCheck?.suspectSteps ?? []), ...challenge.steps])
        }
        audited = challenge.steps.length
        metrics.audited(audited)
      }
    }
    // Each job's tokens also count towards the provider's running total: cheats that stay within honest
    // noise per job (grey, or even pass) add up across jobs until the total is beyond it.
    const noiseRate = (release === 'verified' ? streamNoise : tokenNoise)?.mismatchRate
    if (tokenCheck && noiseRate !== undefined && verdict !== 'failed') {
      const total = evidence.add(providerId, tokenCheck, noiseRate)
      if (total.reason !== undefined) fail(`across jobs: ${total.reason}`)
    }
    if (optimistic && verdict !== 'failed') {
      const result = await mode.verify(
        { request: requestEnvelope, response: responseEnvelope },
        { executor: executor!, tolerance },
      )
      verdict = result.valid ? 'pending' : 'failed'
      reason = result.valid ? '' : result.reason
    }
    const verifyMs = performance.now() - verifyStarted
    metrics.verification(req.verification, verifyMs)
    const receipt = create(ReceiptSchema, {
      jobId,
      request: requestEnvelope,
      response: responseEnvelope,
      verificationMode: req.verification,
      ...(challengeEnvelope && { challenge: challengeEnvelope }),
      ...(auditProofEnvelope && { auditProof: auditProofEnvelope }),
      ...(modeProofBytes && { modeProof: modeProofBytes }),
      verdict,
      reason,
      issuedAtMs: BigInt(Date.now()),
      challengeWindowEndsMs: optimistic ? BigInt(Date.now() + challengeWindowMs) : 0n,
      streaming: release === 'held' ? '' : release,
      ...(tokenCheck && { tokenCheck: tokenCheckMessage(tokenCheck) }),
    })
    if (verdict === 'failed') {
      if (onAuditFailed !== undefined && evidenceSteps.length > 0) {
        // In the background: the client's retry elsewhere does not wait for the chain.
        void onAuditFailed(
          { request: requestEnvelope, response: responseEnvelope },
          evidenceSteps,
          providerId,
        ).catch((error: unknown) =>
          console.error('router: could not take the fraud to the stake contract:', error),
        )
      }
      throw failed(jobHex, receipt, providerId)
    }
    receipts.put(jobHex, signEnvelope('RECEIPT', receipt, node.signer), providerId, verdict)
    if (verdict === 'verified') {
      onVerified?.(providerId, jobHex, response.promptTokens.length + response.outputTokens.length)
    }
    if (verdict === 'pending') {
      const watching = watch(jobHex, receipt, providerId, args.modelHash)
      settling.set(jobHex, watching)
      watching.finally(() => setTimeout(() => settling.delete(jobHex), challengeWindowMs).unref())
    }
    metrics.job(verdict)
    // Only an audit of execution is evidence: proof-only or unaudited jobs do not count toward probation.
    // A grey per-token result puts the provider back on probation (more of its answers checked), no penalty.
    if (tokenCheck?.verdict === 'grey')
      reputation.record(providerId, 'grey', { jobId: jobHex, reason: tokenCheck.reason })
    else if (audited > 0) reputation.record(providerId, 'success', { jobId: jobHex })
    if (firstTokenAt !== undefined)
      providers.observeLatency(providerId, {
        firstTokenMs: firstTokenAt - started,
        streamMs: lastTokenAt - firstTokenAt,
        tokens: answer.tokens.length,
      })
    const text = answer.releaseRest()
    const logprobs =
      req.logprobs === undefined
        ? undefined
        : await answerLogprobs(
            engine,
            response.promptTokens,
            response.outputTokens,
            req.logprobs.top,
            commitTopK + TOKEN_CHECK_EXTRA,
          )
    return {
      id: `${req.prompt !== undefined ? 'cmpl' : 'chatcmpl'}-${jobHex}`,
      model: args.modelName,
      text,
      finishReason: response.finishReason === 'eog' ? 'stop' : response.finishReason,
      promptTokens: response.promptTokens.length,
      completionTokens: response.stepCount,
      receipt: {
        receipt_id: jobHex,
        verification: req.verification,
        verdict,
        provider: providerId,
        model_hash: hex(args.modelHash),
        seed: String(req.seed),
        audited_steps: audited,
        attempts: 1,
        streaming: release === 'held' ? 'none' : release,
        ...(tokenCheck && {
          token_check: {
            steps: tokenCheck.steps,
            mismatches: tokenCheck.mismatches,
            largest_margin: tokenCheck.largestMargin,
            p_value: tokenCheck.pValue,
            verdict: tokenCheck.verdict,
          },
        }),
        timings_ms: {
          generate: Math.round(generatedMs),
          verify: Math.round(verifyMs),
          stream_check: Math.round(answer.checkMs),
          provider_queue: response.timings?.queueMs ?? 0,
          provider_prompt: response.timings?.promptMs ?? 0,
          provider_decode: response.timings?.generateMs ?? 0,
        },
      },
      ...(logprobs && { logprobs }),
    }
  }
}

/** A provider's answer failed verification (already recorded: the provider is banned). */
export class VerificationFailed extends InfraxaError {
  readonly reason: string
  /** The failed job's receipt (`GET /v1/receipts/:id`). */
  readonly receiptId: string
  constructor(providerId: string, reason: string, jobId: string) {
    super('ERR_VERIFICATION_FAILED', `answer of ${providerId} failed verification: ${reason}`, {
      details: `receipt ${jobId}`,
    })
    this.reason = reason
    this.receiptId = jobId
  }
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i])
}
