import type { EngineModel, GenerationResult } from '../../src/index.js'

/**
 * Replays an answer as verified streaming checks it (the router's `AnswerStream`): in chunks of
 * `chunk` tokens, the cache kept between them, relative top-k at every position. Leaves the whole
 * answer in `model`'s cache, as the audit after the stream finds it.
 */
export async function checkStreamInChunks(
  model: EngineModel,
  answer: Pick<GenerationResult, 'promptTokens' | 'outputTokens'>,
  topK: number,
  chunk = 16,
): Promise<void> {
  const n = answer.outputTokens.length
  for (let from = 0; from < n; from += chunk) {
    const positions = Array.from({ length: Math.min(chunk, n - from) }, (_, i) => from + i)
    await model.replay({
      promptTokens: answer.promptTokens,
      outputTokens: answer.outputTokens.slice(0, from + positions.length),
      positions,
      topK,
      relativePositions: positions,
      reuseCache: true,
    })
  }
}
