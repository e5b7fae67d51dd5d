import type { EngineModel } from '@infraxa/engine'
import type { TokenLogprobEntry } from './openai-response.js'

const utf8 = new TextEncoder()
/** Tokens of context a token's text is read after. */
const CONTEXT_TOKENS = 4

/**
 * OpenAI `logprobs.content` for an answer, from the router's own teacher-forced replay of it (never
 * from the provider's say-so): per token, its log-prob under the verifier's model and the `top` most
 * likely alternatives. End-of-generation tokens are left out, as OpenAI leaves out its end token. The
 * sampler only picks from the committed top-k, so the chosen token is in the replay's top-`window`;
 * where drift puts it just outside, its log-prob is given as the last one in the window (an upper bound).
 */
export async function answerLogprobs(
  engine: EngineModel,
  promptTokens: readonly number[],
  outputTokens: readonly number[],
  top: number,
  window: number,
): Promise<TokenLogprobEntry[]> {
  if (outputTokens.length === 0) return []
  const k = Math.min(engine.vocabSize, Math.max(top, window))
  const distributions = await engine.replay({
    promptTokens,
    outputTokens,
    positions: outputTokens.map((_, t) => t),
    topK: k,
  })
  // A token's text after the tokens before it (a tokenizer drops a leading space when a token stands
  // alone), so the answer's tokens add up to its text.
  const all = [...promptTokens, ...outputTokens]
  const entries: TokenLogprobEntry[] = []
  outputTokens.forEach((token, t) => {
    if (engine.isEndOfGeneration(token)) return
    const at = promptTokens.length + t
    const before = all.slice(Math.max(0, at - CONTEXT_TOKENS), at)
    const head = engine.detokenize(before)
    const text = (id: number) => engine.detokenize([...before, id]).slice(head.length)
    const distribution = distributions[t] ?? []
    const chosen = distribution.find((e) => e.id === token) ?? distribution.at(-1)
    const s = text(token)
    entries.push({
      token: s,
      logprob: chosen?.logprob ?? Number.NEGATIVE_INFINITY,
      bytes: [...utf8.encode(s)],
      top_logprobs: distribution.slice(0, top).map((e) => {
        const alt = text(e.id)
        return { token: alt, logprob: e.logprob, bytes: [...utf8.encode(alt)] }
      }),
    })
  })
  return entries
}
