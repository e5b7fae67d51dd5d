import type { ControlledEvaluateInputItem, LlamaContextSequence } from 'node-llama-cpp'
import { plainItem, readTopK, withDistribution, withRelativeDistribution } from './next-token-distribution.js'
import { compareTokenLogprobs, MIN_LOGPROB, type TokenLogprob } from './top-k.js'

/**
 * A teacher-forced evaluation request: the `Executor` interface of `@infraxa/proofs`. Position `t` means
 * the distribution that produced `outputTokens[t]`, i.e. the logits after `promptTokens ‖ outputTokens[0..t-1]`.
 */
export interface ReplayRequest {
  promptTokens: readonly number[]
  outputTokens: readonly number[]
  /** Output positions to return distributions for (any order, duplicates allowed). */
  positions: readonly number[]
  /** How many entries per distribution. */
  topK: number
  /**
   * Positions (also in `positions`) whose distribution may come renormalised over its `topK` entries:
   * log-prob differences exact, absolute values shifted — enough to score a token against the sampler,
   * and several times cheaper on a large vocabulary. A position also needed in full (listed here and
   * compared elsewhere) should be left out.
   */
  relativePositions?: readonly number[]
  /**
   * Keep the KV cache of the previous replay on this model where it is a prefix of this one, and
   * evaluate only the rest: a verifier checking a stream chunk by chunk then pays for each token once.
   * Off by default, so an audit is evaluated exactly as any other verifier would evaluate it.
   * @default false
   */
  reuseCache?: boolean
  /**
   * With `reuseCache`, where the cache already holds every token before the last wanted position (a
   * stream check left the whole answer in it): evaluate each wanted position as one token on the cache
   * cut back to just before it, the last first — a token each instead of a prefill from the first wanted
   * position on. Those logits are decoding's (one token on the cached KV), not a prefill's: on quantised
   * weights the same bits, on float weights within the same honest drift. Where the cache does not hold
   * them, as `reuseCache` alone.
   * @default false
   */
  cutCache?: boolean
  /**
   * Evaluate as decoding does instead of in one prefill: the prompt in one evaluation, then each output
   * token alone. On the provider's build and settings, with float weights too, this reproduces its
   * decoding bit for bit (a batched prefill sums in another order: float log-probs move by ~1e-3), at
   * about the cost of generating the answer. Ignores `relativePositions` and `reuseCache`.
   * @default false
   */
  stepwise?: boolean
}

/** The tokens a replay evaluates: `prompt ‖ output[0..max(positions)-1]`. */
export function replayTokens(request: ReplayRequest): number[] {
  const maxPosition = Math.max(...request.positions)
  return [...request.promptTokens, ...request.outputTokens.slice(0, maxPosition)]
}

/**
 * How many leading tokens of this replay the sequence may keep from `cached` (what the previous replay
 * left in its KV cache): their common prefix, but never a position whose distribution is wanted (its
 * logits must be computed now) — unless the request may cut the cache ({@link ReplayRequest.cutCache})
 * and it holds every token before the last wanted position: then all of the common prefix.
 */
export function reusableTokens(cached: readonly number[], request: ReplayRequest): number {
  const tokens = replayTokens(request)
  const firstWanted = request.promptTokens.length - 1 + Math.min(...request.positions)
  let common = 0
  while (common < cached.length && common < tokens.length && cached[common] === tokens[common]) common++
  if (cutsCache(request, common)) return common
  return Math.min(common, firstWanted)
}

/** Whether a replay that keeps `kept` cached tokens evaluates its positions from the cut cache. */
export function cutsCache(request: ReplayRequest, kept: number): boolean {
  return request.cutCache === true && kept >= replayTokens(request).length - 1
}

/**
 * Evaluates `prompt ‖ output[0..max(positions)-1]` in one controlled evaluation, which llama.cpp runs in
 * ceil(n / batchSize) batches, computing logits only at the requested positions; the first `kept` tokens
 * are already in the sequence's KV cache (0: a cleared sequence). Returns the top-k at each requested
 * position, aligned with `positions`.
 */
export async function replayPositions(
  sequence: LlamaContextSequence,
  request: ReplayRequest,
  kept = 0,
): Promise<TokenLogprob[][]> {
  const { promptTokens, positions } = request
  if (positions.length === 0) return []
  const tokens = replayTokens(request)
  const wanted = new Set(positions.map((t) => promptTokens.length - 1 + t))
  const relative = new Set((request.relativePositions ?? []).map((t) => promptTokens.length - 1 + t))
  const input: ControlledEvaluateInputItem[] = tokens
    .slice(kept)
    .map((token, i) =>
      !wanted.has(kept + i)
        ? plainItem(token)
        : relative.has(kept + i)
          ? withRelativeDistribution(token, request.topK)
          : withDistribution(token),
    )
  const outputs = await sequence.controlledEvaluate(input)
  const byIndex = new Map<number, TokenLogprob[]>()
  for (const index of wanted) {
    const output = outputs[index - kept]
    byIndex.set(
      index,
      relative.has(index) ? readRelativeTopK(output, request.topK) : readTopK(output, request.topK),
    )
  }
  return positions.map((t) => byIndex.get(promptTokens.length - 1 + t)!.map((entry) => ({ ...entry })))
}

/**
 * Evaluates each requested position as one token on the KV cache cut back to just before it, the last
 * position first; the cache must hold every token before the last one ({@link cutsCache}). Leaves the
 * cache holding `prompt ‖ output[0..min(positions)-1]`. Returns the top-k at each requested position,
 * aligned with `positions`.
 */
export async function replayFromCutCache(
  sequence: LlamaContextSequence,
  request: ReplayRequest,
): Promise<TokenLogprob[][]> {
  const { promptTokens, positions, topK } = request
  const tokens = replayTokens(request)
  const relative = new Set(request.relativePositions ?? [])
  const byStep = new Map<number, TokenLogprob[]>()
  for (const t of [...new Set(positions)].sort((a, b) => b - a)) {
    const index = promptTokens.length - 1 + t
    const cached = sequence.contextTokens.length
    if (cached > index) await sequence.eraseContextTokenRanges([{ start: index, end: cached }])
    const token = tokens[index]!
    const [output] = await sequence.controlledEvaluate([
      relative.has(t) ? withRelativeDistribution(token, topK) : withDistribution(token),
    ])
    byStep.set(t, relative.has(t) ? readRelativeTopK(output, topK) : readTopK(output, topK))
  }
  return positions.map((t) => byStep.get(t)!.map((entry) => ({ ...entry })))
}

/** The entries of a relative (top-k renormalised) distribution, most likely first (ties: lower id). */
function readRelativeTopK(output: Parameters<typeof readTopK>[0], k: number): TokenLogprob[] {
  const probabilities = output?.next.probabilities
  if (!probabilities) throw new Error('llama.cpp returned no distribution for a requested position')
  const out = [...probabilities].map(([id, p]) => ({
    id,
    logprob: p > 0 ? Math.max(Math.log(p), MIN_LOGPROB) : MIN_LOGPROB,
  }))
  out.sort(compareTokenLogprobs)
  return out.slice(0, k)
}

/**
 * Evaluates `prompt ‖ output[0..max(positions)-1]` as {@link decodeSteps} does: the prompt in one
 * controlled evaluation with the distribution at its last token, then each output token alone with its
 * distribution. Returns the top-k at each requested position, aligned with `positions`.
 */
export async function replayStepwise(
  sequence: LlamaContextSequence,
  request: ReplayRequest,
): Promise<TokenLogprob[][]> {
  const { promptTokens, outputTokens, positions } = request
  if (positions.length === 0) return []
  const lastStep = Math.max(...positions)
  const wanted = new Set(positions)
  const last = promptTokens.length - 1
  const prefill = await sequence.controlledEvaluate(
    promptTokens.map((token, i) => (i === last ? withDistribution(token) : plainItem(token))),
  )
  let output = prefill[last]
  const byStep = new Map<number, TokenLogprob[]>()
  for (let t = 0; ; t++) {
    if (wanted.has(t)) byStep.set(t, readTopK(output, request.topK))
    if (t === lastStep) break
    output = (await sequence.controlledEvaluate([withDistribution(outputTokens[t]!)]))[0]
  }
  return positions.map((t) => byStep.get(t)!.map((entry) => ({ ...entry })))
}
