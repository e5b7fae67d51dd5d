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
 * (3) the chosen token follows the sampling rule from the committed top-k (when `sampling` is given).
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
  let shared = 0
  let maxDelta = 0
  for (let i = 0; i < k; i++) {
    const lp = recomputedById.get(committed.topIds[i]!)
    if (lp === undefined) continue
    shared++
    const delta = Math.abs(dequantiseLogprob(committed.topLogprobs[i]!) - lp)
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
  if (sampling !== undefined && !samplingRuleHolds(committed, sampling)) {
    return fail(`step ${committed.step}: token ${committed.token} does not follow the sampling rule`)
  }
  return { ok: true, overlap, maxDelta }
}
