import { type SamplingParams, samplingRuleHolds } from '../sampling/sample.js'
import { dequantiseLogprob } from '../transcript/leaf.js'

/**
 * How far a re-execution may differ from a commitment and still count as the same model.
 * Calibrated by `@infraxa/engine` (`CALIBRATED_TOLERANCE`, see its docs/calibration.md); never guess.
 */
export interface Tolerance {
  /** Largest |Δ log-prob| (nats) over token ids present in both top-k lists. */
  readonly maxLogprobDelta: number
  /** Smallest fraction (0..1) of the committed top-k ids that must appear in the recomputed top-k. */
  readonly minTopKOverlap: number
}

/** A committed step (as opened) for comparison. */
export interface ComparableStep {
  readonly step: number
  readonly token: number
  readonly topIds: readonly number[]
  /** Q16.16 fixed point. */
  readonly topLogprobs: readonly number[]
}

export type StepVerdict =
  | { readonly ok: true; readonly overlap: number; readonly maxDelta: number }
  | { readonly ok: false; readonly reason: string; readonly overlap: number; readonly maxDelta: number }

/**
 * Compares one committed step with the verifier's recomputation at the same position:
 * (1) top-k overlap ≥ `minTopKOverlap`, (2) max |Δ log-prob| over shared ids ≤ `maxLogprobDelta`,
 * (3) no committed id the model does not rank sits above the model's k-th log-prob (+ tolerance), the
 * committed probabilities sum to at most 1 and the chosen token is in the model's top-k, (4) the chosen token
 * follows the sampling rule from the committed top-k (when `sampling` is given).
 * Returns the first failed check as the reason, with the measured overlap and delta either way.
 */
export function compareStep(
  committed: ComparableStep,
  recomputed: ReadonlyArray<{ readonly id: number; readonly logprob: number }>,
  tolerance: Tolerance,
  sampling?: SamplingParams,
): StepVerdict {
  const k = committed.topIds.length
  const recomputedById = new Map(recomputed.map((e) => [e.id, e.logprob]))
  const floor =
    recomputed.length > 0 ? Math.min(...recomputed.map((e) => e.logprob)) : Number.NEGATIVE_INFINITY
  let shared = 0
  let maxDelta = 0
  let mass = 0
  // Committed ids the verifier does not rank in its top-k may not claim more than its k-th log-prob.
  let unrankedTooHigh: number | undefined
  for (let i = 0; i < k; i++) {
    const committedLogprob = dequantiseLogprob(committed.topLogprobs[i]!)
    mass += Math.exp(committedLogprob)
    const lp = recomputedById.get(committed.topIds[i]!)
    if (lp === undefined) {
      if (committedLogprob > floor + tolerance.maxLogprobDelta && unrankedTooHigh === undefined) {
        unrankedTooHigh = committed.topIds[i]!
      }
      continue
    }
    shared++
    const delta = Math.abs(committedLogprob - lp)
    if (!(delta <= maxDelta)) maxDelta = Number.isNaN(delta) ? Number.POSITIVE_INFINITY : delta
  }
  const overlap = k === 0 ? 0 : shared / k
  const fail = (reason: string): StepVerdict => ({ ok: false, reason, overlap, maxDelta })
  if (overlap < tolerance.minTopKOverlap) {
    return fail(`step ${committed.step}: top-k overlap ${overlap.toFixed(3)} < ${tolerance.minTopKOverlap}`)
  }
  if (maxDelta > tolerance.maxLogprobDelta) {
    return fail(`step ${committed.step}: |Δ log-prob| ${maxDelta.toFixed(4)} > ${tolerance.maxLogprobDelta}`)
  }
  if (unrankedTooHigh !== undefined) {
    return fail(`step ${committed.step}: token ${unrankedTooHigh} is committed above the model's top-k`)
  }
  if (mass > 1 + 1e-3) {
    return fail(`step ${committed.step}: committed probabilities sum to ${mass.toFixed(4)} > 1`)
  }
  if (!recomputedById.has(committed.token) && recomputed.length > 0) {
    // Not ranked by the verifier: allowed only at the boundary, i.e. committed within the tolerance of
    // the verifier's k-th log-prob (an honest sampled token ranked k-th by the provider, (k+1)-th here).
    const at = committed.topIds.indexOf(committed.token)
    const lp = at < 0 ? Number.NEGATIVE_INFINITY : dequantiseLogprob(committed.topLogprobs[at]!)
    if (!(lp >= floor - tolerance.maxLogprobDelta)) {
      return fail(`step ${committed.step}: chosen token ${committed.token} is not in the model's top-k`)
    }
  }
  if (sampling !== undefined && !samplingRuleHolds(committed, sampling)) {
    return fail(`step ${committed.step}: token ${committed.token} does not follow the sampling rule`)
  }
  return { ok: true, overlap, maxDelta }
}
