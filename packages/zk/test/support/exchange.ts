import type { CommittedStep, GeneratedStep } from '@infraxa/proofs/transcript'
import {
  create,
  InferenceResponseSchema,
  type SignedEnvelope,
  type Signer,
  signEnvelope,
} from '@infraxa/protocol'
import { providerSigner, signedAnswer } from '../../../proofs/test/fixtures/exchange.js'
import type { ToyModel } from '../../../proofs/test/fixtures/toy-model.js'
import { encodeZkModeProof, type ZkProver, type ZkTranscriptProofData, zkRootOf } from '../../src/index.js'

export interface ZkExchangeOptions {
  model: ToyModel
  jobByte?: number
  maxTokens?: number
  k?: number
  temperature?: number
  seed?: bigint
  /** The request's sampling rule (1 = poseidon-gumbel). */
  rule?: number
  topP?: number
  /** The top-p the provider samples with (default: the requested one). */
  providerTopP?: number | undefined
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
  const { jobId, transcript, requestEnvelope, response } = signedAnswer({
    ...o,
    k,
    mode: o.mode ?? 'zk_snark',
  })
  response.zkRoot = zkRootOf({ jobId, steps: transcript.steps, windowSize: shape.windowSize, topK: k })
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

/** Proves the exchange's committed steps (with its sampling when the prover's circuit is sampled). */
export async function proveExchange(
  prover: ZkProver,
  x: ZkExchange,
  sampling?: { temperature: number; seed: bigint },
): Promise<ZkTranscriptProofData> {
  return (await prover.proveTranscript({ jobId: x.jobId, steps: x.steps, ...(sampling && { sampling }) }))
    .proof
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
