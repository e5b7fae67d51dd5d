import type { DistributionTolerance } from './calibrated-tolerance.js'

/**
 * Honest noise of the per-token check of `@infraxa/proofs` (`scoreToken` / `judgeTokens`): how often an
 * honest provider's token is not the seeded sampler's pick on the verifier's own log-probs, and by how much
 * at most.
 */
export interface TokenNoiseModel {
  /** Rate of honest tokens with a margin above 0, as used in the job's binomial test. */
  mismatchRate: number
  /** Largest honest margin (nats): twice the calibrated |Δ log-prob|, as both scores may drift. */
  maxMargin: number
}

/**
 * Measured with `node apps/router/scripts/measure-token-noise.ts 300 64` (docs/calibration.md, "Per-token
 * check"): honest answers generated with 1 thread, re-executed with 2, whole and in 16-token chunks with a
 * kept cache, greedy and T 0.7–1.3. stories260K F32: 2 mismatches in 38,400 tokens (largest margin
 * 0.00018); generated Q8_0 and F32 llamas: see the doc. The rate used is 1e-3: over 8× the largest 95%
 * upper bound measured, leaving room for hardware this machine cannot show (other CPU builds, GPUs, batch
 * widths), which have not been measured yet.
 */
export const SAME_BUILD_MISMATCH_RATE = 1e-3

/** The noise model for a verifier comparing with `tolerance` (see {@link toleranceForQuantization}). */
export function tokenNoiseFor(tolerance: Readonly<DistributionTolerance>): TokenNoiseModel {
  return { mismatchRate: SAME_BUILD_MISMATCH_RATE, maxMargin: 2 * tolerance.maxLogprobDelta }
}
