/**
 * Verification modes: the spec interface, the registry, the executor interface and the `merkle` mode.
 *
 * @example
 * import { createModeRegistry, merkleMode } from '@infraxa/proofs/modes'
 * const registry = createModeRegistry([merkleMode()])
 * const result = await registry.get(request.verificationMode).verify(input, context)
 */
export { type BoundExchange, checkBinding } from './binding.js'
export { type Executor, requestedPromptTokens, type TokenLogprob } from './executor.js'
export {
  adjudicateFraudProof,
  createFraudProof,
  FRAUD_PROOF_MODE_ID,
  type FraudRuling,
  fraudProofConcerns,
  fraudProofMode,
} from './fraud/index.js'
export { LOCAL_FAULTS, MERKLE_MODE_ID, merkleMode } from './merkle/index.js'
export { createModeRegistry, type ModeRegistry } from './registry.js'
export type {
  StepwiseTrigger,
  VerificationContext,
  VerificationInput,
  VerificationMode,
  VerificationNeed,
  VerificationResult,
} from './spec.js'
