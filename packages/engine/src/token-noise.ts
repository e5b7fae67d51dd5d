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

/**
 * Another llama.cpp CPU build of the same release (`--cross-build` rows of the same measurement): a
 * generated Q8_0 llama replayed by `cpu-x64` mismatched 27 of 6,345 tokens (4.3e-3, 95% ≤ 5.9e-3, largest
 * margin 0.072), by `cpu-haswell` 6 (9.5e-4); stories260K F32 1 each (largest 0.00013). 1e-2 covers the
 * worst upper bound measured with 1.7× to spare.
 */
export const OTHER_BUILD_MISMATCH_RATE = 1e-2

/**
 * The noise model for a verifier comparing with `tolerance` (see {@link toleranceForQuantization}) on
 * the provider's own build, or on another CPU build (then with the cross-build tolerance).
 */
export function tokenNoiseFor(
  tolerance: Readonly<DistributionTolerance>,
  hardware: 'same-build' | 'other-build' = 'same-build',
): TokenNoiseModel {
  return {
    mismatchRate: hardware === 'same-build' ? SAME_BUILD_MISMATCH_RATE : OTHER_BUILD_MISMATCH_RATE,
    maxMargin: 2 * tolerance.maxLogprobDelta,
  }
}
