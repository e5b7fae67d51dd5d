import type { SignedEnvelope } from '@infraxa/protocol'
import type { Tolerance } from '../audit/compare.js'
import type { TokenNoise } from '../audit/token-check.js'
import type { Executor } from './executor.js'

/** What a verification mode is given. Envelopes are checked by the mode, never trusted. */
export interface VerificationInput {
  /** The router's signed INFERENCE_REQUEST. */
  readonly request: SignedEnvelope
  /** The provider's signed INFERENCE_RESPONSE. */
  readonly response: SignedEnvelope
  /** The router's signed AUDIT_CHALLENGE (audit-based modes). */
  readonly challenge?: SignedEnvelope
  /** The provider's signed AUDIT_PROOF answering the challenge (audit-based modes). */
  readonly auditProof?: SignedEnvelope
  /** Mode-specific proof bytes (e.g. Groth16 proofs). */
  readonly modeProof?: Uint8Array
}

/** What the verifier brings: its own means of checking. */
export interface VerificationContext {
  /** Re-executes the model named by the request (audit-based modes). */
  readonly executor?: Executor
  /** Comparison tolerances, from the engine's calibration. */
  readonly tolerance?: Tolerance
  /** Fewest audited steps the verifier accepts (capped at the step count). @default 1 */
  readonly minAuditSteps?: number
  /**
   * Honest noise of the per-token check. With it, audit modes score every step the re-execution reaches
   * (not only the opened ones) against the seeded sampler and give one verdict per job ({@link judgeTokens}).
   */
  readonly tokenNoise?: TokenNoise
  /**
   * Also re-execute the opened steps stepwise (`Executor.replay` with `stepwise`: as the provider decoded,
   * bit-exact on its build) and compare them with this tight tolerance: catches a precision swap or
   * perturbed weights that left every token unchanged, at about the cost of generating the answer. A
   * verifier asks for it on a random share of jobs, and (with `trigger`) on every job whose prefill
   * comparison looks unusual.
   */
  readonly exactAudit?: {
    readonly tolerance: Tolerance
    /**
     * Run it only when the teacher-forced comparison of the opened steps looks unusual (a suspicion
     * trigger, set above honest prefill drift; not an accusation: the stepwise re-execution decides).
     * Absent: always.
     */
    readonly trigger?: StepwiseTrigger
  }
}

/**
 * When a stepwise audit runs, from each opened step's largest |Δ log-prob| against the teacher-forced
 * prefill: when the largest of them is above `maxDelta` (one step drifted far) or their mean is above
 * `meanDelta` (every step drifted a little: honest prefill drift is mostly ~1e-4 with rare spikes, a
 * rounding of the weights moves every step).
 */
export interface StepwiseTrigger {
  readonly maxDelta: number
  readonly meanDelta: number
}

/** A field of {@link VerificationInput} or {@link VerificationContext} a mode cannot work without. */
export type VerificationNeed = 'challenge' | 'auditProof' | 'modeProof' | 'executor' | 'tolerance'

export type VerificationResult =
  | { readonly valid: true; readonly details?: Readonly<Record<string, unknown>> }
  | { readonly valid: false; readonly reason: string; readonly details?: Readonly<Record<string, unknown>> }

/**
 * The spec every verification mode implements (`specificationVersion: 'v1'`).
 *
 * `verify` resolves `{ valid: false, reason }` for anything a provider could have got wrong or forged —
 * bad signatures, broken bindings, proofs that do not check — and throws a typed error only when the
 * caller's input lacks what the mode needs (`MalformedVerificationInputError`).
 */
export interface VerificationMode {
  readonly specificationVersion: 'v1'
  /** Id as carried in requests, e.g. `merkle`. */
  readonly id: string
  readonly version: string
  readonly needs: readonly VerificationNeed[]
  verify(input: VerificationInput, context: VerificationContext): Promise<VerificationResult>
}
