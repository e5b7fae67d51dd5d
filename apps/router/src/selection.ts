/** What the router knows of one provider when choosing. */
export interface Candidate {
  readonly peerId: string
  /** Reputation score in (0, 1), times the stake bonus (1 to 1.2) when the router reads stake. */
  readonly score: number
  /** Reported load in [0, 1]. */
  readonly load: number
  /**
   * Expected time for this request in ms: the provider's measured first-token and per-token times at
   * the request's length (`expectedJobMs`); undefined when never measured.
   */
  readonly latencyMs: number | undefined
}

/**
 * The selection score: reputation, discounted by reported load and by latency relative to a
 * reference (1 s). Higher is better. A provider never measured counts `unmeasuredLatencyMs`.
 */
export function selectionScore(c: Candidate, unmeasuredLatencyMs = 250): number {
  const latency = c.latencyMs ?? unmeasuredLatencyMs
  return c.score * (1 - 0.8 * Math.min(1, Math.max(0, c.load))) * (1000 / (1000 + latency))
}

/**
 * Power-of-two-choices: draw two distinct candidates uniformly and keep the better one. Spreads load
 * where always taking the best would herd every request onto one provider. A provider never measured
 * counts as fast as the fastest measured one (optimism under uncertainty): it is tried and measured,
 * where a fixed guess would have it lose every draw to one measured once on short jobs.
 *
 * @param random - uniform in [0, 1) (injectable for tests). @default Math.random
 */
export function pickProvider<C extends Candidate>(
  candidates: readonly C[],
  random: () => number = Math.random,
): C | undefined {
  if (candidates.length === 0) return undefined
  if (candidates.length === 1) return candidates[0]
  const i = Math.floor(random() * candidates.length)
  let j = Math.floor(random() * (candidates.length - 1))
  if (j >= i) j++
  const a = candidates[i]!
  const b = candidates[j]!
  const unmeasured = fastestMeasured(candidates)
  return selectionScore(a, unmeasured) >= selectionScore(b, unmeasured) ? a : b
}

/** The lowest measured latency among the candidates (undefined: none measured, the default guess). */
function fastestMeasured(candidates: readonly Candidate[]): number | undefined {
  let fastest: number | undefined
  for (const c of candidates)
    if (c.latencyMs !== undefined && (fastest === undefined || c.latencyMs < fastest)) fastest = c.latencyMs
  return fastest
}

/**
 * Fair probation: picks among newcomers (identities on probation) with probability `share` when there
 * are both newcomers and trusted providers, else among the trusted ones; within the group chosen,
 * {@link pickProvider}. An honest newcomer so leaves probation in bounded time (it gets about `share` /
 * newcomers of the traffic however good the trusted providers are), and any number of Sybil identities
 * together stay capped at `share`.
 *
 * @param share - traffic for newcomers, in [0, 1]. @default 0.1
 */
export function pickWithExploration<C extends Candidate & { readonly onProbation: boolean }>(
  candidates: readonly C[],
  share = 0.1,
  random: () => number = Math.random,
): C | undefined {
  const newcomers = candidates.filter((c) => c.onProbation)
  const trusted = candidates.filter((c) => !c.onProbation)
  if (newcomers.length === 0 || trusted.length === 0) return pickProvider(candidates, random)
  return pickProvider(random() < share ? newcomers : trusted, random)
}
