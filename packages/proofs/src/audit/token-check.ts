import type { TokenLogprob } from '../modes/executor.js'
import { GUMBEL_BITS, GUMBEL_TABLE, poseidonNoise } from '../sampling/poseidon-gumbel.js'
import { gumbelScores, NUCLEUS_EPSILON, type SamplingParams, truncates } from '../sampling/sample.js'
import { LOGPROB_SCALE, quantiseLogprob } from '../transcript/leaf.js'

/**
 * Entries a verifier asks for beyond the committed top-k when scoring tokens, so that an honest pick
 * ranked just outside the verifier's own top-k is still found.
 */
export const TOKEN_CHECK_EXTRA = 8

/** How one returned token compares with what the seeded sampler picks from the verifier's own log-probs. */
export interface TokenScore {
  readonly step: number
  readonly token: number
  /**
   * In nats (log-prob units at temperature 1): how much better the sampler's own pick scores than the
   * returned token, × T for T > 0; 0 when the returned token is the pick; +∞ when the token is not in
   * the verifier's distribution at all. An honest provider stays within twice its |Δ log-prob| drift.
   */
  readonly margin: number
  /** Rank of the token in the verifier's distribution (0 = most likely), -1 when absent. */
  readonly rank: number
  /** The verifier's log-prob of the token (−∞ when absent). */
  readonly logprob: number
}

/**
 * Scores the token returned at one step against the verifier's own distribution there: the sampling
 * rule (argmax at T = 0, Gumbel-max with the request's seeded noise at T > 0) is applied to the
 * verifier's quantised log-probs, and the margin says by how much the returned token loses. The provider
 * samples among its own top-k, which near the k-th entry can differ from the verifier's, so the
 * candidates the returned token is compared with are the verifier's top-k entries that are clearly in
 * any honest top-k (more than 2 × `drift` above the verifier's (k+1)-th log-prob); `distribution` should
 * hold more than k entries (k + 8 is plenty) so that an honest pick near the boundary is still found.
 *
 * With nucleus truncation (`sampling.topP` < 1) the distribution must hold absolute log-probs (not
 * renormalised over its entries). The provider's probabilities are the verifier's within a factor
 * e^±drift, so the candidates compared are further restricted to those surely inside any honest nucleus
 * (the most the provider can see ranked before them stays below top-p), and a returned token surely
 * outside it (the least the provider can see ranked before it already reaches top-p) scores +∞.
 *
 * @example
 * const score = scoreToken({ step: 0, token: 5, distribution, k: 8, sampling: { temperature: 0, seed: 0n }, drift: 0.03 })
 * score.margin // 0 when 5 is the verifier's argmax
 */
export function scoreToken(args: {
  readonly step: number
  readonly token: number
  /** The verifier's distribution at this step, most likely first. */
  readonly distribution: readonly TokenLogprob[]
  /** The committed top-k size: the provider samples among its k most likely tokens. */
  readonly k: number
  readonly sampling: SamplingParams
  /** Largest honest |Δ log-prob| between the provider's numerics and the verifier's. */
  readonly drift: number
}): TokenScore {
  const { step, token, distribution, k, sampling, drift } = args
  const rank = distribution.findIndex((e) => e.id === token)
  if (rank < 0)
    return { step, token, margin: Number.POSITIVE_INFINITY, rank, logprob: Number.NEGATIVE_INFINITY }
  const ids = distribution.map((e) => e.id)
  const quantised = distribution.map((e) => quantiseLogprob(e.logprob))
  if (sampling.temperature > 0 && sampling.rule === 'poseidon-gumbel') {
    return scorePoseidonGumbel({ step, token, rank, distribution, quantised, k, sampling, drift })
  }
  const scores =
    sampling.temperature === 0
      ? quantised.map((q) => q / LOGPROB_SCALE)
      : gumbelScores(ids, quantised, sampling, step)
  const outside = distribution[k]?.logprob ?? Number.NEGATIVE_INFINITY
  const nucleus = truncates(sampling) ? nucleusBounds(distribution, sampling.topP!, drift) : undefined
  if (nucleus?.surelyOut(rank))
    return { step, token, margin: Number.POSITIVE_INFINITY, rank, logprob: distribution[rank]!.logprob }
  let best = Number.NEGATIVE_INFINITY
  for (let i = 0; i < Math.min(k, distribution.length); i++) {
    if (nucleus !== undefined && !nucleus.surelyIn(i)) continue
    if (distribution[i]!.logprob > outside + 2 * drift && scores[i]! > best) best = scores[i]!
  }
  // Below two quanta the two scores are the same up to fixed-point rounding (relative distributions are
  // quantised after a shift): no evidence either way.
  const raw = best - scores[rank]!
  const quantum = sampling.temperature === 0 ? 2 / LOGPROB_SCALE : 2 / LOGPROB_SCALE / sampling.temperature
  const gap = raw > quantum ? raw : 0
  const margin = sampling.temperature === 0 ? gap : gap * sampling.temperature
  return { step, token, margin, rank, logprob: distribution[rank]!.logprob }
}

/**
 * {@link scoreToken} under the poseidon-gumbel rule, whose noise belongs to a candidate's *rank* in the
 * provider's committed order. An honest provider's ranks are the verifier's up to near-ties (log-probs
 * within 2 × drift), so a candidate may hold the noise of any rank between the number of candidates
 * surely above it and the number possibly above it. The returned token is scored with its most
 * favourable reachable noise, every competitor with its least favourable: the margin is positive only
 * when the token loses under every honest reading of the order.
 */
function scorePoseidonGumbel(args: {
  readonly step: number
  readonly token: number
  readonly rank: number
  readonly distribution: readonly TokenLogprob[]
  readonly quantised: readonly number[]
  readonly k: number
  readonly sampling: SamplingParams
  readonly drift: number
}): TokenScore {
  const { step, token, rank, distribution, quantised, k, sampling, drift } = args
  const h = poseidonNoise(sampling.seed, step)
  const mask = BigInt(2 ** GUMBEL_BITS - 1)
  const noise = Array.from(
    { length: k },
    (_, r) => GUMBEL_TABLE[Number((h >> BigInt(GUMBEL_BITS * r)) & mask)]! / LOGPROB_SCALE,
  )
  const reach = (i: number) => {
    let surely = 0
    let possibly = 0
    for (let m = 0; m < distribution.length; m++) {
      if (m === i) continue
      if (distribution[m]!.logprob > distribution[i]!.logprob + 2 * drift) surely++
      if (distribution[m]!.logprob > distribution[i]!.logprob - 2 * drift) possibly++
    }
    const reachable = noise.slice(Math.min(surely, k - 1), Math.min(possibly, k - 1) + 1)
    return { lo: Math.min(...reachable), hi: Math.max(...reachable) }
  }
  const T = sampling.temperature
  const base = (i: number) => quantised[i]! / LOGPROB_SCALE / T
  const outside = distribution[k]?.logprob ?? Number.NEGATIVE_INFINITY
  let best = Number.NEGATIVE_INFINITY
  for (let i = 0; i < Math.min(k, distribution.length); i++) {
    if (i === rank || !(distribution[i]!.logprob > outside + 2 * drift)) continue
    best = Math.max(best, base(i) + reach(i).lo)
  }
  const raw = best - (base(rank) + reach(rank).hi)
  const gap = raw > 2 / LOGPROB_SCALE / T ? raw : 0
  return { step, token, margin: gap * T, rank, logprob: distribution[rank]!.logprob }
}

/**
 * Where the nucleus boundary can lie for an honest provider whose log-probs are within `drift` of the
 * verifier's: who may rank before a candidate is anyone within 2 × drift above it (or higher), who surely
 * ranks before it is anyone more than 2 × drift above it; masses scale by at most e^±drift.
 */
function nucleusBounds(distribution: readonly TokenLogprob[], topP: number, drift: number) {
  const p = distribution.map((e) => Math.exp(e.logprob))
  const massAbove = (i: number, slack: number) => {
    let mass = 0
    for (let m = 0; m < distribution.length; m++) {
      if (m !== i && distribution[m]!.logprob > distribution[i]!.logprob + slack) mass += p[m]!
    }
    return mass
  }
  return {
    surelyIn: (i: number) => Math.exp(drift) * massAbove(i, -2 * drift) < topP - NUCLEUS_EPSILON,
    surelyOut: (i: number) => Math.exp(-drift) * massAbove(i, 2 * drift) >= topP + NUCLEUS_EPSILON,
  }
}

/** Honest noise of the token check for one model type × hardware class (measured, see @infraxa/engine). */
export interface TokenNoise {
  /** Fraction of honest steps whose margin is above 0 (near-ties that drift flips), ≥ a small floor. */
  readonly mismatchRate: number
  /** Largest margin an honest provider can show (2 × the calibrated |Δ log-prob|). */
  readonly maxMargin: number
  /**
   * When the verifier can re-execute as the provider decoded (`Executor.replay` with `stepwise`: same
   * build, one job at a time, float weights too): the noise of that replay (bit-exact: any mismatch is a
   * deviation). A job whose cheap check shows mismatches is then re-checked that way ({@link confirmTokens}).
   */
  readonly stepwise?: TokenNoise
}

export type TokenVerdict = {
  /** `fail`: beyond honest noise at the stated rate; `grey`: unusual, check more before any penalty. */
  readonly verdict: 'pass' | 'grey' | 'fail'
  readonly steps: number
  readonly mismatches: number
  readonly largestMargin: number
  /** P(at least this many mismatches | honest), from the binomial tail with the honest mismatch rate. */
  readonly pValue: number
  readonly reason: string
  /**
   * The mismatching steps, largest margin first (at most 8): where to open the transcript for evidence
   * a third party can check one step at a time (a fraud proof).
   */
  readonly suspectSteps: readonly number[]
}

/**
 * One verdict for the tokens of a job, not a max per step: a token the verifier's sampler could never
 * pick (margin above the honest maximum) fails at once; otherwise the number of mismatching tokens is
 * compared with the honest mismatch rate, and the job fails when so many would occur by honest noise
 * with probability below `falseAccusationRate` (grey below `greyRate`: audit more, no penalty).
 *
 * @example
 * const v = judgeTokens(scores, { mismatchRate: 0.002, maxMargin: 0.06 })
 * if (v.verdict === 'fail') console.log(v.reason)
 */
export function judgeTokens(
  scores: readonly TokenScore[],
  noise: TokenNoise,
  { falseAccusationRate = 1e-6, greyRate = 1e-3 }: { falseAccusationRate?: number; greyRate?: number } = {},
): TokenVerdict {
  let mismatches = 0
  let largest = 0
  let worst: TokenScore | undefined
  for (const s of scores) {
    if (s.margin > 0) mismatches++
    if (s.margin > largest) {
      largest = s.margin
      worst = s
    }
  }
  const pValue = binomialTail(scores.length, mismatches, noise.mismatchRate)
  const suspectSteps = scores
    .filter((s) => s.margin > 0)
    .sort((a, b) => b.margin - a.margin)
    .slice(0, 8)
    .map((s) => s.step)
  const base = { steps: scores.length, mismatches, largestMargin: largest, pValue, suspectSteps }
  if (worst !== undefined && largest > noise.maxMargin) {
    const why =
      worst.rank < 0
        ? `token ${worst.token} is not among the model's most likely tokens`
        : largest === Number.POSITIVE_INFINITY
          ? `token ${worst.token} is outside the top_p nucleus`
          : `token ${worst.token} loses to the sampler's pick by ${largest.toFixed(4)} nats > ${noise.maxMargin}`
    return { ...base, verdict: 'fail', reason: `step ${worst.step}: ${why}` }
  }
  const summary = `${mismatches} of ${scores.length} tokens are not the sampler's pick (p = ${pValue.toExponential(2)} if honest)`
  if (pValue < falseAccusationRate) return { ...base, verdict: 'fail', reason: summary }
  if (pValue < greyRate) return { ...base, verdict: 'grey', reason: summary }
  return { ...base, verdict: 'pass', reason: '' }
}

/** P(X ≥ m) for X ~ Binomial(n, p), summed in log space (exact enough for n ≤ 10^5). */
export function binomialTail(n: number, m: number, p: number): number {
  if (m <= 0) return 1
  if (m > n) return 0
  if (p <= 0) return 0
  if (p >= 1) return 1
  const logP = Math.log(p)
  const logQ = Math.log1p(-p)
  // log C(n, m) p^m q^(n-m), then each next term from the previous one.
  let logTerm = logChoose(n, m) + m * logP + (n - m) * logQ
  let sum = 0
  for (let x = m; x <= n; x++) {
    sum += Math.exp(logTerm)
    logTerm += Math.log((n - x) / (x + 1)) + logP - logQ
    if (logTerm < -745 && x > n * p) break
  }
  return Math.min(1, sum)
}

function logChoose(n: number, k: number): number {
  let s = 0
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i)
  return s
}
