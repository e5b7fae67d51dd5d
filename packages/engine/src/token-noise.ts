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
 * Quantised weights on the provider's own build, decoding one job at a time: replay is bit-exact
 * (calibration: |Δ| exactly 0, and 0 mismatches in 51,000 scored tokens), so a token that is not the
 * sampler's pick is a deviation, not noise. The rate is a floor for faults (a flipped bit), small enough
 * that one mismatch in up to 1,000 tokens already fails at 10^-6.
 */
export const EXACT_REPLAY_MISMATCH_RATE = 1e-9

/**
 * Largest honest margin of a batched decode (`parallel` > 1) re-executed stepwise alone: several sequences
 * in one decode change float products, so the stepwise replay is close, not exact. Measured
 * (`measure-token-noise.ts 64 64 --batch=8 --stepwise`): stories260K F32 max |Δ log-prob| 0.030 (p99.9
 * 0.015), a generated F32 llama 0.0019, Q8_0 exact; 0 mismatches in 12,178 tokens. 0.1 is over 3× the
 * largest |Δ| (a margin can reach 2 × |Δ|), far below the 0.2 nats the prefill check must allow floats.
 */
export const BATCHED_STEPWISE_MAX_MARGIN = 0.1

/**
 * The stepwise follow-up's noise for a provider decoding in batches: not bit-exact, so mismatches are
 * counted at the same-build rate and a margin past {@link BATCHED_STEPWISE_MAX_MARGIN} fails at once.
 */
export function batchedStepwiseNoise(): TokenNoiseModel {
  return { mismatchRate: SAME_BUILD_MISMATCH_RATE, maxMargin: BATCHED_STEPWISE_MAX_MARGIN }
}

/** How a provider's numerics relate to the verifier's. */
export type HardwareClass = 'exact' | 'same-build' | 'other-build'

/**
 * The noise model for a verifier comparing with `tolerance` (see {@link toleranceForQuantization}):
 * `exact` (quantised weights, same build, one job at a time: bit-exact replay), `same-build` (float
 * weights, or batched decoding), `other-build` (another CPU build, with the cross-build tolerance).
 */
export function tokenNoiseFor(
  tolerance: Readonly<DistributionTolerance>,
  hardware: HardwareClass = 'same-build',
): TokenNoiseModel {
  const mismatchRate =
    hardware === 'exact'
      ? EXACT_REPLAY_MISMATCH_RATE
      : hardware === 'same-build'
        ? SAME_BUILD_MISMATCH_RATE
        : OTHER_BUILD_MISMATCH_RATE
  return { mismatchRate, maxMargin: 2 * tolerance.maxLogprobDelta }
}
