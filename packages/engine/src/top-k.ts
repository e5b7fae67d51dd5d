/** One entry of a next-token distribution: a token id and its natural-log probability. */
export interface TokenLogprob {
  id: number
  /** Natural log of the token's probability under the full softmax at temperature 1. */
  logprob: number
}

/**
 * Floor reported for a probability that underflowed float32 to 0 (ln of the smallest float32 subnormal is
 * about -103.3), so log-probs are always finite numbers.
 */
export const MIN_LOGPROB = -104

/** The order of a top-k list: log-prob descending, ties by lower id. */
export function compareTokenLogprobs(a: TokenLogprob, b: TokenLogprob): number {
  return b.logprob - a.logprob || a.id - b.id
}

function logprobOf(probability: number): number {
  return probability > 0 ? Math.max(Math.log(probability), MIN_LOGPROB) : MIN_LOGPROB
}

/**
 * The k most probable tokens of a distribution that llama.cpp returned sorted by probability (descending).
 * Reads only the first k entries (plus any that tie with the k-th), so the cost beyond what node-llama-cpp
 * already paid is O(k), and orders ties by lower id.
 */
export function topKFromSortedProbabilities(
  probabilities: ReadonlyMap<number, number>,
  k: number,
): TokenLogprob[] {
  const out: TokenLogprob[] = []
  let kth = Number.NaN
  for (const [id, probability] of probabilities) {
    if (out.length >= k && probability !== kth) break
    out.push({ id, logprob: logprobOf(probability) })
    if (out.length === k) kth = probability
  }
  out.sort(compareTokenLogprobs)
  out.length = Math.min(out.length, k)
  return out
}
