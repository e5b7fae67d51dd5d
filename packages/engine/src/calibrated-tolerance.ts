/** Bounds within which a replayed distribution counts as the same computation as the committed one. */
export interface DistributionTolerance {
  /** Largest allowed |Δ log-prob| (nats) over the ids both top-k lists share. */
  maxLogprobDelta: number
  /** Smallest allowed fraction (0..1) of the committed top-k ids that the replay also ranks in its top-k. */
  minTopKOverlap: number
}

/**
 * Default tolerance for `@infraxa/proofs`' `compareStep`, from `pnpm --filter @infraxa/engine calibrate`
 * (docs/calibration.md). Assumes the verifier replays with the provider's `EngineInfo`: the same
 * engineVersion, backend, build, batchSize (32), flashAttention (on) and kvCacheType (f16); thread count and
 * context size do not matter. Then Q8_0 replays are bit-exact and F32 replays drift at most 0.012 (measured),
 * while the same weights in another quantisation (F32 vs Q8_0) differ by 0.08 typically and different models
 * share almost no top-k ids.
 */
export const CALIBRATED_TOLERANCE: Readonly<DistributionTolerance> = Object.freeze({
  maxLogprobDelta: 0.03,
  minTopKOverlap: 0.75,
})

/**
 * Tolerance for a verifier that cannot match the provider's build or settings (another CPU build,
 * batchSize ≥ 64 for a faster replay, no flash attention): honest Q8_0 replays then differ by up to 0.17
 * in log-prob (measured on CPU builds), as much as F32 vs Q8_0 of the same weights, so this tolerance only
 * catches a different model (by top-k overlap), not another quantisation of the same weights.
 * `maxLogprobDelta` also covers the ~0.7 reported between GPUs and CPUs on flat distributions (not
 * measured here: no GPU build is installed).
 */
export const CROSS_BUILD_TOLERANCE: Readonly<DistributionTolerance> = Object.freeze({
  maxLogprobDelta: 1,
  minTopKOverlap: 0.5,
})

/**
 * Tolerance for quantised weights replayed under another CPU build of the same llama.cpp release, or with
 * other batch / attention settings (calibration groups e and f: haswell, x64 and the native build, batch
 * ≥ 64, no flash attention): honest Q8_0 replays move by up to 0.171 (median 0.06–0.075) with top-k
 * overlap ≥ 0.75, because the int8 re-quantisation of activations spreads last-bit differences. 0.35 is 2×
 * the largest honest |Δ|, and the overlap allows one boundary swap more than seen. It cannot tell F32 from
 * Q8_0 of the same weights (median 0.077, same as honest noise here) but does catch a cheaper
 * quantisation: a real Q4_0 file served as Q8_0 moved opened steps by 0.98–1.08 (attack suite).
 */
export const OTHER_CPU_BUILD_QUANTISED_TOLERANCE: Readonly<DistributionTolerance> = Object.freeze({
  maxLogprobDelta: 0.35,
  minTopKOverlap: 0.625,
})

/**
 * Tolerance for models with float weights (F32, F16, BF16), where replay is not bit-exact. Measured on
 * stories260K (F32) over 6,000 audited-style steps (300 answers, greedy and T 0.7–1.3, 8–32 tokens):
 * median |Δ| 1e-4, p99 0.0047, p99.9 0.012, max 0.043 — one step in 6,000 above 0.03, which with 4 audits
 * per job would ban an honest provider about once in 1,500 jobs. 0.1 leaves 2.3× over the largest honest
 * step seen; it still catches another model (no shared top-k) and most steps of an F32 → Q8_0 swap
 * (median 0.077, max 0.20), just not every one.
 */
export const FLOAT_WEIGHTS_TOLERANCE: Readonly<DistributionTolerance> = Object.freeze({
  maxLogprobDelta: 0.1,
  minTopKOverlap: 0.75,
})

/**
 * For a stepwise replay on the provider's build, one job at a time (bit-exact, float weights included:
 * docs/calibration.md, "Stepwise replay"): only the transcript's Q16.16 rounding (≤ 7.6e-6) remains, so
 * 1e-4 leaves 13× room and still sees an F16 rounding of the weights.
 */
export const EXACT_REPLAY_TOLERANCE: Readonly<DistributionTolerance> = Object.freeze({
  maxLogprobDelta: 1e-4,
  minTopKOverlap: 0.875,
})

/**
 * When a verifier that can replay stepwise (the provider's build, one job at a time) re-executes a job's
 * opened steps stepwise, bit for bit, before accepting them: from each opened step's largest |Δ log-prob|
 * against the teacher-forced prefill, when their largest passes `maxDelta` or their mean passes
 * `meanDelta`. Not a tolerance: the stepwise replay decides, so the trigger may sit inside the honest
 * tail. Measured on stories260K (4 Dec 2026, greedy 32-token answers, 4 random opened steps each;
 * docs/calibration.md, "The drift trigger"): honest jobs — largest p50 0.0016, max 0.0199, 1.0% above
 * 0.01; mean p50 0.0007, 2.0% above 0.003 — so ~2.5% of honest audited jobs pay one stepwise replay
 * (about a generation); the same weights rounded to Q8_0 and served as F32: 100% of jobs past it; rounded
 * to F16: largest above 0.01 in 27%, mean above 0.003 in 79%. On quantised weights the prefill is
 * bit-exact and honest jobs never reach it.
 */
export const STEPWISE_AUDIT_TRIGGER: Readonly<{ maxDelta: number; meanDelta: number }> = Object.freeze({
  maxDelta: 0.01,
  meanDelta: 0.003,
})

/**
 * The tolerance for verifying a model of this weight type with the same engine settings:
 * {@link CALIBRATED_TOLERANCE} for quantised weights (replay bit-exact), {@link FLOAT_WEIGHTS_TOLERANCE}
 * for F32/F16/BF16.
 */
export function toleranceForQuantization(quantization: string): Readonly<DistributionTolerance> {
  return isFloatWeights(quantization) ? FLOAT_WEIGHTS_TOLERANCE : CALIBRATED_TOLERANCE
}

/**
 * The tolerance for a provider on another CPU build of the same llama.cpp release (measured: float weights
 * drift as little as on the verifier's own build, ≤ 0.012, so {@link FLOAT_WEIGHTS_TOLERANCE}; quantised
 * ones by up to 0.171, {@link OTHER_CPU_BUILD_QUANTISED_TOLERANCE}). Unmeasured hardware (GPUs, another
 * release) has no such bound: {@link CROSS_BUILD_TOLERANCE}, which only catches another model.
 */
export function toleranceForOtherCpuBuild(quantization: string): Readonly<DistributionTolerance> {
  return isFloatWeights(quantization) ? FLOAT_WEIGHTS_TOLERANCE : OTHER_CPU_BUILD_QUANTISED_TOLERANCE
}

/** Whether a GGUF weight type is a float one (F32, F16, BF16), whose replay is not bit-exact. */
export function isFloatWeights(quantization: string): boolean {
  return /^(F32|F16|BF16)$/i.test(quantization)
}
