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
}

/**
 * Evaluates `prompt ‖ output[0..max(positions)-1]` on a cleared sequence in one controlled evaluation,
 * which llama.cpp runs in ceil(n / batchSize) batches, computing logits only at the requested positions.
 * Returns the top-k at each requested position, aligned with `positions`.
 */
export async function replayPositions(
  sequence: LlamaContextSequence,
  request: ReplayRequest,
): Promise<TokenLogprob[][]> {
  const { promptTokens, outputTokens, positions } = request
  if (positions.length === 0) return []
  const maxPosition = Math.max(...positions)
  const tokens = [...promptTokens, ...outputTokens.slice(0, maxPosition)]
  const wanted = new Set(positions.map((t) => promptTokens.length - 1 + t))
  const input: ControlledEvaluateInputItem[] = tokens.map((token, i) =>
    wanted.has(i) ? withDistribution(token) : plainItem(token),
  )
  const outputs = await sequence.controlledEvaluate(input)
  const byIndex = new Map<number, TokenLogprob[]>()
  for (const index of wanted) byIndex.set(index, readTopK(outputs[index], request.topK))
  return positions.map((t) => byIndex.get(promptTokens.length - 1 + t)!.map((entry) => ({ ...entry })))
}
