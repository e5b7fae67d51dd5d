import type { ControlledEvaluateInputItem, LlamaContextSequence } from 'node-llama-cpp'
import { plainItem, readTopK, withDistribution } from './next-token-distribution.js'
import type { TokenLogprob } from './top-k.js'

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
   * Keep the KV cache of the previous replay on this model where it is a prefix of this one, and
   * evaluate only the rest: a verifier checking a stream chunk by chunk then pays for each token once.
   * Off by default, so an audit is evaluated exactly as any other verifier would evaluate it.
   * @default false
   */
  reuseCache?: boolean
}

/** The tokens a replay evaluates: `prompt ‖ output[0..max(positions)-1]`. */
export function replayTokens(request: ReplayRequest): number[] {
  const maxPosition = Math.max(...request.positions)
  return [...request.promptTokens, ...request.outputTokens.slice(0, maxPosition)]
}

/**
 * How many leading tokens of this replay the sequence may keep from `cached` (what the previous replay
 * left in its KV cache): their common prefix, but never a position whose distribution is wanted (its
 * logits must be computed now).
 */
export function reusableTokens(cached: readonly number[], request: ReplayRequest): number {
  const tokens = replayTokens(request)
  const firstWanted = request.promptTokens.length - 1 + Math.min(...request.positions)
  let common = 0
  while (common < cached.length && common < tokens.length && cached[common] === tokens[common]) common++
  return Math.min(common, firstWanted)
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
  const input: ControlledEvaluateInputItem[] = tokens
    .slice(kept)
    .map((token, i) => (wanted.has(kept + i) ? withDistribution(token) : plainItem(token)))
  const outputs = await sequence.controlledEvaluate(input)
  const byIndex = new Map<number, TokenLogprob[]>()
  for (const index of wanted) byIndex.set(index, readTopK(outputs[index - kept], request.topK))
  return positions.map((t) => byIndex.get(promptTokens.length - 1 + t)!.map((entry) => ({ ...entry })))
}
