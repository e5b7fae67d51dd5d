import {
  bytesEqual,
  create,
  FraudProofSchema,
  InfraxaError,
  openEnvelope,
  type SignedEnvelope,
  type Signer,
  signEnvelope,
} from '@infraxa/protocol'
import { compareStep, type Tolerance } from '../../audit/compare.js'
import { samplingParamsOf } from '../../sampling/sample.js'
import type { CommittedStep } from '../../transcript/leaf.js'
import { quantiseLogprob } from '../../transcript/leaf.js'
import { verifyOpenings } from '../../transcript/transcript.js'
import { checkBinding } from '../binding.js'
import { type Executor, requestedPromptTokens, type TokenLogprob } from '../executor.js'
import { LOCAL_FAULTS } from '../merkle/mode.js'

/**
 * Builds a self-contained FRAUD_PROOF, signed by the challenger: the signed request and response, the
 * provider's opening of step t with its inclusion proof, and the challenger's recomputation of step t.
 * Any node holding the model can adjudicate it by re-running that one step.
 */
export function createFraudProof(args: {
  request: SignedEnvelope
  response: SignedEnvelope
  opening: CommittedStep
  siblings: readonly Uint8Array[]
  recomputed: readonly TokenLogprob[]
  bond: bigint
  challenger: Signer
}): SignedEnvelope {
  const { opening } = args
  return signEnvelope(
    'FRAUD_PROOF',
    create(FraudProofSchema, {
      request: args.request,
      response: args.response,
      opening: {
        step: opening.step,
        token: opening.token,
        topIds: [...opening.topIds],
        topLogprobs: [...opening.topLogprobs],
      },
      siblings: [...args.siblings],
      recomputed: {
        step: opening.step,
        token: opening.token,
        topIds: args.recomputed.map((e) => e.id),
        topLogprobs: args.recomputed.map((e) => quantiseLogprob(e.logprob)),
      },
      bond: args.bond,
    }),
    args.challenger,
  )
}

/** The adjudicator's ruling on a fraud proof. */
export interface FraudRuling {
  /** True: the provider committed to a step its model does not produce (slash it, pay the challenger). */
  readonly fraud: boolean
  readonly reason: string
  readonly jobId: Uint8Array
  readonly step: number
  readonly challenger: Uint8Array
  /** The accused provider (the response's signer); empty when the proof is too broken to name one. */
  readonly provider: Uint8Array
  readonly bond: bigint
}

/**
 * Adjudicates a fraud proof by re-running the disputed step with the adjudicator's own copy of the model
 * (never trusting the challenger's recomputation). Fraud needs all of: a valid request/response binding
 * signed by the provider, an opening included under the signed root, and a step that fails the
 * comparison (or the sampling rule, or names another token than the output). Anything less is a false
 * accusation (`fraud: false`), which costs the challenger its bond.
 */
export async function adjudicateFraudProof(
  envelope: SignedEnvelope,
  context: { executor: Executor; tolerance: Tolerance },
): Promise<FraudRuling> {
  const none: Uint8Array = new Uint8Array(0)
  let proof: ReturnType<typeof openEnvelope<'FRAUD_PROOF'>>['message']
  try {
    proof = openEnvelope('FRAUD_PROOF', envelope).message
  } catch (error) {
    if (!(error instanceof InfraxaError)) throw error
    return {
      fraud: false,
      reason: `fraud proof: ${error.shortMessage}`,
      jobId: none,
      step: 0,
      challenger: envelope.publicKey,
      provider: none,
      bond: 0n,
    }
  }
  const ruling = (
    fraud: boolean,
    reason: string,
    jobId: Uint8Array = none,
    provider: Uint8Array = none,
  ): FraudRuling => ({
    fraud,
    reason,
    jobId,
    step: proof.opening?.step ?? 0,
    challenger: envelope.publicKey,
    provider,
    bond: proof.bond,
  })
  if (proof.request === undefined || proof.response === undefined || proof.opening === undefined) {
    return ruling(false, 'fraud proof lacks the request, the response or the opening')
  }
  const bound = checkBinding(proof.request, proof.response)
  if (!bound.ok) return ruling(false, `no valid signed exchange to blame: ${bound.reason}`)
  const { request, response, providerKey } = bound.exchange
  const opening = proof.opening
  try {
    if (
      !verifyOpenings(
        response.transcriptRoot,
        response.jobId,
        response.stepCount,
        { openings: [opening], siblings: proof.siblings },
        response.commitTopK,
      )
    ) {
      return ruling(
        false,
        'the opening is not included under the signed transcript root',
        response.jobId,
        providerKey,
      )
    }
  } catch (error) {
    if (!(error instanceof InfraxaError)) throw error
    return ruling(false, `the opening does not verify: ${error.shortMessage}`, response.jobId, providerKey)
  }
  if (opening.token !== response.outputTokens[opening.step]) {
    return ruling(
      true,
      `step ${opening.step}: committed token differs from the output token`,
      response.jobId,
      providerKey,
    )
  }
  const expected = await requestedPromptTokens(context.executor, request)
  // A request holding both kinds of prompt is the signer's error, not the provider's fraud.
  if (expected !== undefined && 'error' in expected)
    return ruling(false, `ill-formed request: ${expected.error}`, response.jobId, providerKey)
  if (expected !== undefined) {
    const actual = response.promptTokens
    if (expected.tokens.length !== actual.length || expected.tokens.some((t, i) => t !== actual[i])) {
      return ruling(
        true,
        'the provider evaluated another prompt than the request (prompt tampering)',
        response.jobId,
        providerKey,
      )
    }
  }
  let recomputed: TokenLogprob[][]
  try {
    recomputed = await context.executor.replay({
      promptTokens: response.promptTokens,
      outputTokens: response.outputTokens,
      positions: [opening.step],
      topK: response.commitTopK,
    })
  } catch (error) {
    if (!(error instanceof InfraxaError) || LOCAL_FAULTS.has(error.code)) throw error
    return ruling(
      true,
      `the model cannot even evaluate the committed tokens: ${error.shortMessage}`,
      response.jobId,
      providerKey,
    )
  }
  const sampling = samplingParamsOf(request.sampling)
  const verdict = compareStep(opening, recomputed[0] ?? [], context.tolerance, sampling)
  if (!verdict.ok) return ruling(true, verdict.reason, response.jobId, providerKey)
  return ruling(
    false,
    `step ${opening.step} matches the model (overlap ${verdict.overlap.toFixed(2)}, |Δ| ${verdict.maxDelta.toFixed(4)}): false accusation`,
    response.jobId,
    providerKey,
  )
}

/** Whether a fraud proof is about this exact exchange (same request and response bytes). */
export function fraudProofConcerns(
  proof: SignedEnvelope,
  request: SignedEnvelope,
  response: SignedEnvelope,
): boolean {
  try {
    const { message } = openEnvelope('FRAUD_PROOF', proof)
    return (
      message.request !== undefined &&
      message.response !== undefined &&
      bytesEqual(message.request.payload, request.payload) &&
      bytesEqual(message.response.payload, response.payload) &&
      bytesEqual(message.response.signature, response.signature)
    )
  } catch {
    return false
  }
}
