import {
  create,
  InferenceRequestSchema,
  InferenceResponseSchema,
  promptTokenHash,
  requestHash,
  type SignedEnvelope,
  type Signer,
  signEnvelope,
} from '@infraxa/protocol'
import { createSampler } from '../../src/sampling/sample.js'
import type { CommittedStep } from '../../src/transcript/leaf.js'
import { buildTranscript, type GeneratedStep } from '../../src/transcript/transcript.js'
import { encodeZkModeProof, type ZkProver, type ZkTranscriptProofData, zkRootOf } from '../../src/zk/index.js'
import { providerSigner, routerSigner } from '../fixtures/exchange.js'
import { type ToyModel, toyTokenize } from '../fixtures/toy-model.js'

export interface ZkExchangeOptions {
  model: ToyModel
  jobByte?: number
  maxTokens?: number
  k?: number
  temperature?: number
  mode?: string
  content?: string
  /** Rewrites the generated steps before they are committed (a cheating provider). */
  cheat?: (steps: GeneratedStep[]) => GeneratedStep[]
}

/** A signed zk_snark request and response, with the committed steps (not proved yet). */
export interface ZkExchange {
  readonly jobId: Uint8Array
  readonly steps: readonly CommittedStep[]
  readonly request: SignedEnvelope
  readonly response: ReturnType<typeof create<typeof InferenceResponseSchema>>
  readonly responseEnvelope: SignedEnvelope
  readonly windowSize: number
  readonly topK: number
}

export function makeZkExchange(o: ZkExchangeOptions, shape = { windowSize: 16, topK: 8 }): ZkExchange {
  const k = o.k ?? shape.topK
  const temperature = o.temperature ?? 0
  const maxTokens = o.maxTokens ?? 12
  const jobId = new Uint8Array(16).fill(o.jobByte ?? 1)
  const messages = [{ role: 'user', content: o.content ?? 'Once upon a time' }]
  const request = create(InferenceRequestSchema, {
    jobId,
    modelHash: new Uint8Array(32).fill(o.model.seed & 0xff),
    messages,
    sampling: { temperature, seed: 7n, maxTokens },
    commitTopK: k,
    verificationMode: o.mode ?? 'zk_snark',
    routerNonce: new Uint8Array(32).fill(9),
    deadlineMs: 2_000_000_000_000n,
    providerPublicKey: providerSigner.publicKey,
  })
  const requestEnvelope = signEnvelope('INFERENCE_REQUEST', request, routerSigner)
  const promptTokens = toyTokenize(messages)
  let generated: GeneratedStep[] = o.model.generate(
    promptTokens,
    maxTokens,
    k,
    createSampler({ temperature, seed: 7n }),
  )
  if (o.cheat) generated = o.cheat(generated)
  const transcript = buildTranscript(jobId, generated)
  const response = create(InferenceResponseSchema, {
    jobId,
    requestHash: requestHash(requestEnvelope),
    modelHash: request.modelHash,
    promptTokens,
    promptTokenHash: promptTokenHash(promptTokens),
    outputTokens: transcript.steps.map((s) => s.token),
    transcriptRoot: transcript.root,
    stepCount: transcript.steps.length,
    commitTopK: k,
    finishReason: 'length',
    zkRoot: zkRootOf({ jobId, steps: transcript.steps, windowSize: shape.windowSize, topK: k }),
  })
  return {
    jobId,
    steps: transcript.steps,
    request: requestEnvelope,
    response,
    responseEnvelope: signEnvelope('INFERENCE_RESPONSE', response, providerSigner),
    windowSize: shape.windowSize,
    topK: k,
  }
}

/** Re-signs an altered copy of the exchange's response (the provider lying in its own response). */
export function resign(
  x: ZkExchange,
  change: (r: ZkExchange['response']) => void,
  signer: Signer = providerSigner,
): SignedEnvelope {
  const copy = create(InferenceResponseSchema, { ...x.response })
  change(copy)
  return signEnvelope('INFERENCE_RESPONSE', copy, signer)
}

/** Proves the exchange's committed steps. */
export async function proveExchange(prover: ZkProver, x: ZkExchange): Promise<ZkTranscriptProofData> {
  return (await prover.proveTranscript({ jobId: x.jobId, steps: x.steps })).proof
}

/** The mode input: request, response, and the provider's encoded ZK_PROOF envelope. */
export function zkInput(
  x: ZkExchange,
  proof: ZkTranscriptProofData,
  o: { response?: SignedEnvelope; signer?: Signer } = {},
) {
  return {
    request: x.request,
    response: o.response ?? x.responseEnvelope,
    modeProof: encodeZkModeProof(proof, o.signer ?? providerSigner),
  }
}
