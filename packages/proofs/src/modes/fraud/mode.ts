import { decodeEnvelope, InfraxaError } from '@infraxa/protocol'
import { MalformedVerificationInputError } from '../../errors.js'
import { checkBinding } from '../binding.js'
import type { VerificationContext, VerificationInput, VerificationMode, VerificationResult } from '../spec.js'
import { adjudicateFraudProof, fraudProofConcerns } from './fraud-proof.js'

export const FRAUD_PROOF_MODE_ID = 'fraud_proof'

/**
 * The `fraud_proof` (optimistic) mode. The answer is accepted at once — `{ valid: true, details:
 * { pending: true } }` — and stays open to challenge for a window. Watchers re-execute; whoever finds a
 * step the model does not produce submits a FRAUD_PROOF (`input.modeProof`, an encoded signed envelope),
 * which this mode adjudicates by re-running that one step: proven fraud makes the answer invalid; a
 * false accusation leaves it valid.
 *
 * @example
 * const pending = await fraudProofMode().verify({ request, response }, ctx) // valid, pending
 * const settled = await fraudProofMode().verify({ request, response, modeProof: encodeEnvelope(proof) }, ctx)
 */
export function fraudProofMode(): VerificationMode {
  return {
    specificationVersion: 'v1',
    id: FRAUD_PROOF_MODE_ID,
    version: '1.0.0',
    needs: ['executor', 'tolerance'],
    verify: verifyFraudProof,
  }
}

async function verifyFraudProof(
  input: VerificationInput,
  context: VerificationContext,
): Promise<VerificationResult> {
  if (input?.request === undefined || input.response === undefined) {
    throw new MalformedVerificationInputError(
      FRAUD_PROOF_MODE_ID,
      'input needs the request and response envelopes',
    )
  }
  if (context?.executor === undefined || context.tolerance === undefined) {
    throw new MalformedVerificationInputError(
      FRAUD_PROOF_MODE_ID,
      'context needs an executor and a tolerance',
    )
  }
  const bound = checkBinding(input.request, input.response)
  if (!bound.ok) return { valid: false, reason: bound.reason }
  if (input.modeProof === undefined) return { valid: true, details: { pending: true } }
  let proof: ReturnType<typeof decodeEnvelope>
  try {
    proof = decodeEnvelope(input.modeProof)
  } catch (error) {
    if (!(error instanceof InfraxaError)) throw error
    return { valid: true, details: { pending: true, rejectedProof: error.shortMessage } }
  }
  if (!fraudProofConcerns(proof, input.request, input.response)) {
    return {
      valid: true,
      details: { pending: true, rejectedProof: 'the fraud proof is about another exchange' },
    }
  }
  const ruling = await adjudicateFraudProof(proof, {
    executor: context.executor,
    tolerance: context.tolerance,
  })
  if (ruling.fraud) return { valid: false, reason: `fraud proven at step ${ruling.step}: ${ruling.reason}` }
  return { valid: true, details: { pending: false, falseAccusation: ruling.reason } }
}
