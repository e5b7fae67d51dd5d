import { InvalidStepError } from '../errors.js'
import { canonicalOrder, LOGPROB_SCALE, quantiseLogprob } from '../transcript/leaf.js'
import { poseidonGumbelToken } from './poseidon-gumbel.js'
import { samplingKey, uniformNoise } from './prf.js'

/**
 * How a temperature > 0 token is drawn: `hmac-gumbel` (the default: HMAC-SHA-256 noise, floating point)
 * or `poseidon-gumbel` (Poseidon noise, integers only: what the zk_snark circuit proves; no top-p).
 */
export type SamplingRule = 'hmac-gumbel' | 'poseidon-gumbel'

/** Sampling parameters as fixed by the request. */
export interface SamplingParams {
  /** 0 = greedy. */
  readonly temperature: number
  readonly seed: bigint
  /**
   * Nucleus truncation in (0, 1]: draw only among the smallest most-likely prefix of the committed top-k
   * whose probability (at temperature 1, from the committed log-probs) reaches it. Unset, 0 or 1: none.
   */
  readonly topP?: number
  /** Unset: `hmac-gumbel`. */
  readonly rule?: SamplingRule
}

/**
 * The sampling parameters of a signed request's `sampling` field (proto3 defaults: greedy, seed 0, no
 * nucleus truncation).
 */
export function samplingParamsOf(
  sampling:
    | { readonly temperature: number; readonly seed: bigint; readonly topP: number; readonly rule?: number }
    | undefined,
): SamplingParams {
  const topP = sampling?.topP ?? 0
  return {
    temperature: sampling?.temperature ?? 0,
    seed: sampling?.seed ?? 0n,
    ...(topP !== 0 && topP !== 1 && { topP }),
    ...(sampling?.rule === SAMPLING_RULE_POSEIDON_GUMBEL && { rule: 'poseidon-gumbel' as const }),
  }
}

/** `SamplingRule.SAMPLING_RULE_POSEIDON_GUMBEL` of the protocol (proto enum value). */
export const SAMPLING_RULE_POSEIDON_GUMBEL = 1

/** Whether nucleus truncation applies: top-p set below 1 and a sampled (T > 0) answer. */
export function truncates(params: SamplingParams): boolean {
  return params.temperature > 0 && params.topP !== undefined && params.topP > 0 && params.topP < 1
}

/**
 * Slack of the nucleus boundary when *verifying*: a candidate whose cumulative probability is this close
 * to top-p counts as either side (`Math.exp` may differ in the last bit between runtimes).
 */
export const NUCLEUS_EPSILON = 1e-9

/** Largest accepted temperature. */
export const MAX_TEMPERATURE = 100
/**
 * Smallest accepted temperature above 0: below it, scores overflow to −∞ and every candidate would tie
 * (use 0 for greedy).
 */
export const MIN_TEMPERATURE = 1e-3

/**
 * Scores within this distance of the best count as the best when *verifying* a temperature sample:
 * IEEE-754 doubles are exact here, but `Math.log` may differ in the last bit between runtimes.
 */
export const SCORE_EPSILON = 1e-9

function checkParams(params: SamplingParams): void {
  const { temperature, topP, rule } = params
  if (topP !== undefined && !(Number.isFinite(topP) && topP >= 0 && topP <= 1)) {
    throw new InvalidStepError(`top_p ${topP} (0..1)`)
  }
  if (rule !== undefined && rule !== 'hmac-gumbel' && rule !== 'poseidon-gumbel') {
    throw new InvalidStepError(`unknown sampling rule ${String(rule)}`)
  }
  if (rule === 'poseidon-gumbel' && truncates(params)) {
    throw new InvalidStepError('top_p is not part of the poseidon-gumbel sampling rule')
  }
  if (
    !Number.isFinite(temperature) ||
    temperature < 0 ||
    temperature > MAX_TEMPERATURE ||
    (temperature > 0 && temperature < MIN_TEMPERATURE)
  ) {
    throw new InvalidStepError(`temperature ${temperature} (0, or ${MIN_TEMPERATURE}..${MAX_TEMPERATURE})`)
  }
}

/**
 * Gumbel-max scores of the committed candidates: `q_i / 65536 / T − ln(−ln u_i)`, with `u_i` from
 * {@link uniformNoise}(seed, step, id). The highest score wins; ties go to the lower id.
 */
export function gumbelScores(
  ids: readonly number[],
  quantisedLogprobs: readonly number[],
  { temperature, seed }: SamplingParams,
  step: number,
): number[] {
  const key = samplingKey(seed)
  return ids.map((id, i) => {
    const u = uniformNoise(key, step, id)
    return quantisedLogprobs[i]! / LOGPROB_SCALE / temperature - Math.log(-Math.log(u))
  })
}

/**
 * Indices of the nucleus among committed candidates: sorted by quantised log-prob (highest first, lower
 * id on ties), the smallest prefix whose probability `Σ exp(q / 65536)` reaches `topP` (the whole list
 * when its mass stays below). Deterministic from the committed values, so anyone can recompute it.
 */
export function nucleus(
  ids: readonly number[],
  quantisedLogprobs: readonly number[],
  topP: number,
): number[] {
  const out: number[] = []
  const order = canonicalOrder(ids, quantisedLogprobs)
  let mass = 0
  for (const i of order) {
    out.push(i)
    mass += Math.exp(quantisedLogprobs[i]! / LOGPROB_SCALE)
    if (mass >= topP) break
  }
  return out
}

function argmaxLowestId(ids: readonly number[], scores: readonly number[]): number {
  let best = 0
  for (let i = 1; i < ids.length; i++) {
    if (scores[i]! > scores[best]! || (scores[i] === scores[best] && ids[i]! < ids[best]!)) best = i
  }
  return ids[best]!
}

/**
 * The sampling rule anyone can recompute from a committed step: with temperature 0 the argmax of the
 * committed (quantised) log-probs, lowest id on ties; with T > 0 Gumbel-max over the committed top-k.
 *
 * @example
 * const token = sampleToken([5, 9, 2], [-1000, -70000, -90000], { temperature: 0.8, seed: 42n }, 0)
 */
export function sampleToken(
  ids: readonly number[],
  quantisedLogprobs: readonly number[],
  params: SamplingParams,
  step: number,
): number {
  checkParams(params)
  if (ids.length === 0 || ids.length !== quantisedLogprobs.length) {
    throw new InvalidStepError('sampling needs a non-empty top-k with one log-prob per id')
  }
  if (params.temperature === 0) return argmaxLowestId(ids, quantisedLogprobs)
  if (params.rule === 'poseidon-gumbel') {
    return poseidonGumbelToken(ids, quantisedLogprobs, params.temperature, params.seed, step)
  }
  const scores = gumbelScores(ids, quantisedLogprobs, params, step)
  if (!truncates(params)) return argmaxLowestId(ids, scores)
  const kept = nucleus(ids, quantisedLogprobs, params.topP!)
  return argmaxLowestId(
    kept.map((i) => ids[i]!),
    kept.map((i) => scores[i]!),
  )
}

/**
 * A `choose(topK, t)` callback for an engine: quantises the distribution exactly as the transcript will
 * commit it, then applies {@link sampleToken}, so the committed step always satisfies the rule.
 */
export function createSampler(
  params: SamplingParams,
): (topK: ReadonlyArray<{ id: number; logprob: number }>, t: number) => number {
  checkParams(params)
  return (topK, t) =>
    sampleToken(
      topK.map((e) => e.id),
      topK.map((e) => quantiseLogprob(e.logprob)),
      params,
      t,
    )
}

/** Whether a committed step's token is the one the sampling rule picks from its committed top-k. */
export function samplingRuleHolds(
  step: {
    readonly step: number
    readonly token: number
    readonly topIds: readonly number[]
    readonly topLogprobs: readonly number[]
  },
  params: SamplingParams,
): boolean {
  checkParams(params)
  const index = step.topIds.indexOf(step.token)
  if (index < 0) return false
  if (params.temperature === 0) return argmaxLowestId(step.topIds, step.topLogprobs) === step.token
  if (params.rule === 'poseidon-gumbel') {
    // Integers only: exact in every runtime, no slack.
    return (
      poseidonGumbelToken(step.topIds, step.topLogprobs, params.temperature, params.seed, step.step) ===
      step.token
    )
  }
  const scores = gumbelScores(step.topIds, step.topLogprobs, params, step.step)
  if (!truncates(params)) return scores[index]! >= Math.max(...scores) - SCORE_EPSILON
  // The token must be inside the nucleus (taken at its widest), and win among its narrowest reading.
  const widest = nucleus(step.topIds, step.topLogprobs, Math.min(1, params.topP! + NUCLEUS_EPSILON))
  if (!widest.includes(index)) return false
  const narrowest = nucleus(step.topIds, step.topLogprobs, params.topP! - NUCLEUS_EPSILON)
  return scores[index]! >= Math.max(...narrowest.map((i) => scores[i]!)) - SCORE_EPSILON
}
