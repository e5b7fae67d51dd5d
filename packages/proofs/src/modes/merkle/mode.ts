import { bytesEqual, InfraxaError, openEnvelope } from '@infraxa/protocol'
import { verifyAuditChallenge } from '../../audit/challenge.js'
import { compareStep } from '../../audit/compare.js'
import { scoreToken, TOKEN_CHECK_EXTRA, type TokenVerdict } from '../../audit/token-check.js'
import { confirmTokens } from '../../audit/token-confirm.js'
import { MalformedVerificationInputError } from '../../errors.js'
import { samplingParamsOf, truncates } from '../../sampling/sample.js'
import { verifyOpenings } from '../../transcript/transcript.js'
import { checkBinding } from '../binding.js'
import { requestedPromptTokens } from '../executor.js'
import type { VerificationContext, VerificationInput, VerificationMode, VerificationResult } from '../spec.js'

export const MERKLE_MODE_ID = 'merkle'

/** Executor error codes that are the verifier's own trouble, never the provider's: rethrown. */
export const LOCAL_FAULTS: ReadonlySet<string> = new Set([
  'ERR_MODEL_DISPOSED',
  'ERR_GENERATION_ABORTED',
  'ERR_MODEL_LOAD',
])

const invalid = (reason: string, details?: Record<string, unknown>): VerificationResult =>
  details === undefined ? { valid: false, reason } : { valid: false, reason, details }

function peerFault(error: unknown): string {
  if (error instanceof InfraxaError) return error.shortMessage
  throw error
}

/**
 * The `merkle` (audit) mode: checks the signed request/response binding, that the router's challenge
 * was derived by ECVRF over (job id, root), that the provider's openings hash to the committed root, that
 * each opened token follows the sampling rule, and that re-executing the model (teacher-forced, through
 * the context's {@link Executor}) agrees with every opened step within the calibrated tolerance.
 *
 * @example
 * const result = await merkleMode().verify(
 *   { request, response, challenge, auditProof },
 *   { executor: engineModel, tolerance: CALIBRATED_TOLERANCE, minAuditSteps: 4 },
 * )
 */
export function merkleMode(): VerificationMode {
  return {
    specificationVersion: 'v1',
    id: MERKLE_MODE_ID,
    version: '1.0.0',
    needs: ['challenge', 'auditProof', 'executor', 'tolerance'],
    verify: verifyMerkle,
  }
}

async function verifyMerkle(
  input: VerificationInput,
  context: VerificationContext,
): Promise<VerificationResult> {
  if (input?.request === undefined || input.response === undefined) {
    throw new MalformedVerificationInputError(
      MERKLE_MODE_ID,
      'input needs the request and response envelopes',
    )
  }
  if (input.challenge === undefined || input.auditProof === undefined) {
    throw new MalformedVerificationInputError(
      MERKLE_MODE_ID,
      'input needs the audit challenge and the audit proof',
    )
  }
  const { executor, tolerance } = context ?? {}
  if (executor === undefined || tolerance === undefined) {
    throw new MalformedVerificationInputError(MERKLE_MODE_ID, 'context needs an executor and a tolerance')
  }

  const bound = checkBinding(input.request, input.response)
  if (!bound.ok) return invalid(bound.reason)
  const { request, response, routerKey, providerKey } = bound.exchange

  let challenge: ReturnType<typeof openEnvelope<'AUDIT_CHALLENGE'>>['message']
  let proof: ReturnType<typeof openEnvelope<'AUDIT_PROOF'>>['message']
  try {
    challenge = openEnvelope('AUDIT_CHALLENGE', input.challenge, { signer: routerKey }).message
  } catch (error) {
    return invalid(`audit challenge: ${peerFault(error)}`)
  }
  try {
    proof = openEnvelope('AUDIT_PROOF', input.auditProof, { signer: providerKey }).message
  } catch (error) {
    return invalid(`audit proof: ${peerFault(error)}`)
  }

  const { jobId, transcriptRoot: root, stepCount } = response
  if (!bytesEqual(challenge.jobId, jobId) || !bytesEqual(challenge.transcriptRoot, root)) {
    return invalid('audit challenge is for another job or root')
  }
  if (request.vrfPublicKey.length === 0 || !bytesEqual(request.vrfPublicKey, challenge.vrfPublicKey)) {
    return invalid('audit challenge uses another VRF key than the signed request names')
  }
  const challengeData = {
    steps: challenge.steps,
    vrfPublicKey: challenge.vrfPublicKey,
    vrfOutput: challenge.vrfOutput,
    vrfProof: challenge.vrfProof,
  }
  if (!verifyAuditChallenge(challengeData, { jobId, root, stepCount })) {
    return invalid('audit challenge steps were not derived from the VRF over (job id, root)')
  }
  const required = Math.min(context.minAuditSteps ?? 1, stepCount)
  if (challenge.steps.length < required) {
    return invalid(`only ${challenge.steps.length} steps audited, ${required} required`)
  }
  if (stepCount === 0) return { valid: true, details: { auditedSteps: 0 } }

  if (
    !bytesEqual(proof.jobId, jobId) ||
    !bytesEqual(proof.transcriptRoot, root) ||
    proof.stepCount !== stepCount
  ) {
    return invalid('audit proof is for another job, root or step count')
  }
  const opened = proof.openings.map((o) => o.step)
  if (opened.length !== challenge.steps.length || opened.some((s, i) => s !== challenge.steps[i])) {
    return invalid('audit proof does not open exactly the challenged steps, in order')
  }
  try {
    if (!verifyOpenings(root, jobId, stepCount, proof, response.commitTopK)) {
      return invalid('openings do not hash to the committed transcript root')
    }
  } catch (error) {
    return invalid(`openings do not verify against the committed root (${peerFault(error)})`)
  }
  for (const opening of proof.openings) {
    if (opening.token !== response.outputTokens[opening.step]) {
      return invalid(`step ${opening.step}: opened token differs from the output token`)
    }
  }

  const sampling = samplingParamsOf(request.sampling)
  const k = response.commitTopK
  // With a noise model every step is scored too (one prefill over the whole answer, relative
  // distributions at the steps that are not opened), so a cheat after the last opened step is seen.
  const scored = context.tokenNoise === undefined ? [] : Array.from({ length: stepCount }, (_, t) => t)
  let replayed: Awaited<ReturnType<typeof executor.replay>>
  try {
    replayed = await executor.replay({
      promptTokens: response.promptTokens,
      outputTokens: response.outputTokens,
      positions: [...challenge.steps, ...scored],
      topK: scored.length > 0 ? k + TOKEN_CHECK_EXTRA : k,
      // Opened steps are compared in full; the others are only scored (differences of log-probs) —
      // unless the nucleus (top-p) is drawn, which needs absolute probabilities.
      ...(scored.length > 0 &&
        !truncates(sampling) && { relativePositions: scored.filter((t) => !challenge.steps.includes(t)) }),
    })
  } catch (error) {
    // The verifier's own trouble (its model shut down, a run aborted) is no verdict on the provider.
    if (error instanceof InfraxaError && LOCAL_FAULTS.has(error.code)) throw error
    // Token ids outside the vocabulary, a transcript longer than the context: the provider's doing.
    return invalid(`re-execution rejected the transcript: ${peerFault(error)}`)
  }
  const recomputed = replayed.slice(0, challenge.steps.length).map((d) => d.slice(0, k))
  let maxDelta = 0
  let sumDelta = 0
  let minOverlap = 1
  for (let i = 0; i < proof.openings.length; i++) {
    const verdict = compareStep(proof.openings[i]!, recomputed[i] ?? [], tolerance, sampling)
    maxDelta = Math.max(maxDelta, verdict.maxDelta)
    sumDelta += verdict.maxDelta
    minOverlap = Math.min(minOverlap, verdict.overlap)
    if (!verdict.ok) return invalid(verdict.reason, { step: proof.openings[i]!.step, maxDelta, minOverlap })
  }
  // After re-execution, so a substituted model is reported by what diverged; still catches a tampered
  // prompt that the real model was run on.
  const expected = await requestedPromptTokens(executor, request)
  if (expected !== undefined) {
    if ('error' in expected) return invalid(expected.error)
    const actual = response.promptTokens
    if (expected.tokens.length !== actual.length || expected.tokens.some((t, i) => t !== actual[i])) {
      return invalid('prompt tokens are not the requested prompt as the model tokenizes it')
    }
  }

  // The stepwise audit: asked for outright, or triggered when the opened steps drifted further than an
  // honest prefill does — one of them far, or all of them a little (a cheat that kept every token but not
  // the weights' numbers).
  const trigger = context.exactAudit?.trigger
  const meanDelta = proof.openings.length > 0 ? sumDelta / proof.openings.length : 0
  const exactAudit =
    trigger === undefined || maxDelta > trigger.maxDelta || meanDelta > trigger.meanDelta
      ? context.exactAudit
      : undefined
  if (exactAudit !== undefined) {
    let exact: Awaited<ReturnType<typeof executor.replay>>
    try {
      exact = await executor.replay({
        promptTokens: response.promptTokens,
        outputTokens: response.outputTokens,
        positions: challenge.steps,
        topK: k,
        stepwise: true,
      })
    } catch (error) {
      if (error instanceof InfraxaError && LOCAL_FAULTS.has(error.code)) throw error
      return invalid(`stepwise re-execution rejected the transcript: ${peerFault(error)}`)
    }
    for (let i = 0; i < proof.openings.length; i++) {
      const verdict = compareStep(proof.openings[i]!, exact[i] ?? [], exactAudit.tolerance, sampling)
      if (!verdict.ok)
        return invalid(`${verdict.reason} (stepwise audit: bit-exact re-execution)`, {
          step: proof.openings[i]!.step,
          maxDelta: verdict.maxDelta,
          stepwiseAudit: true,
        })
    }
  }

  let tokenCheck: TokenVerdict | undefined
  if (context.tokenNoise !== undefined) {
    const distributions = replayed.slice(challenge.steps.length)
    const scores = scored.map((t) =>
      scoreToken({
        step: t,
        token: response.outputTokens[t]!,
        distribution: distributions[t] ?? [],
        k,
        sampling,
        drift: tolerance.maxLogprobDelta,
      }),
    )
    // Mismatches are re-checked stepwise when the verifier can reproduce the provider's decoding.
    try {
      tokenCheck = (
        await confirmTokens({
          executor,
          promptTokens: response.promptTokens,
          outputTokens: response.outputTokens,
          scores,
          k,
          sampling,
          noise: context.tokenNoise,
        })
      ).verdict
    } catch (error) {
      if (error instanceof InfraxaError && LOCAL_FAULTS.has(error.code)) throw error
      return invalid(`stepwise re-execution rejected the transcript: ${peerFault(error)}`)
    }
    if (tokenCheck.verdict === 'fail') {
      return invalid(tokenCheck.reason, {
        tokenCheck,
        maxDelta,
        minOverlap,
        stepwiseAudit: exactAudit !== undefined,
      })
    }
  }

  return {
    valid: true,
    details: {
      auditedSteps: challenge.steps.length,
      maxDelta,
      minOverlap,
      stepwiseAudit: exactAudit !== undefined,
      ...(tokenCheck && { tokenCheck }),
    },
  }
}
