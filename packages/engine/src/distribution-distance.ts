import type { TokenLogprob } from './top-k.js'

/** How far a replayed distribution is from a committed one. */
export interface DistributionDistance {
  /**
   * Largest |Δ log-prob| over the ids present in both lists; `Infinity` when they share no id (nothing
   * is comparable, which is as bad as it gets).
   */
  maxLogprobDelta: number
  /** Fraction of the committed ids that are also in the replayed list (0..1). */
  topKOverlap: number
  /** Number of shared ids. */
  sharedIds: number
}

/**
 * Compares a committed top-k with a replayed one, the two measures the calibrated tolerance bounds.
 * Both lists should have the same k.
 */
export function distributionDistance(
  committed: readonly TokenLogprob[],
  replayed: readonly TokenLogprob[],
): DistributionDistance {
  const replayedById = new Map(replayed.map((entry) => [entry.id, entry.logprob]))
  let maxLogprobDelta = 0
  let sharedIds = 0
  for (const { id, logprob } of committed) {
    const other = replayedById.get(id)
    if (other === undefined) continue
    sharedIds++
    maxLogprobDelta = Math.max(maxLogprobDelta, Math.abs(logprob - other))
  }
  return {
    maxLogprobDelta: sharedIds === 0 ? Number.POSITIVE_INFINITY : maxLogprobDelta,
    topKOverlap: committed.length === 0 ? 1 : sharedIds / committed.length,
    sharedIds,
  }
}
