import type { LlamaContextSequence, LlamaModel } from 'node-llama-cpp'
import { GenerationAbortedError, InvalidChoiceError } from './errors.js'
import type { GenerationResult } from './generation.js'
import type { ChooseToken, GenerationStep } from './generation-step.js'
import { IncrementalDetokenizer } from './incremental-detokenizer.js'
import { asLlamaToken, asLlamaTokens } from './llama-token.js'
import { plainItem, readTopK, withDistribution } from './next-token-distribution.js'
import { StopStringMatcher } from './stop-strings.js'

/** A validated generation job. */
export interface DecodeJob {
  promptTokens: number[]
  maxTokens: number
  topK: number
  stop: readonly string[]
  choose: ChooseToken
  /** When the job was queued (performance.now()). */
  queuedAt: number
}

/**
 * Decodes one generation on a cleared sequence: prefill the prompt (in `batchSize` chunks), then one
 * token at a time, each step asking for the distribution, letting `choose` pick the token, and emitting
 * the step before the token is evaluated. Stops on an end-of-generation token, a stop string or
 * `maxTokens`.
 */
export async function decodeSteps(
  model: LlamaModel,
  sequence: LlamaContextSequence,
  job: DecodeJob,
  emit: (step: GenerationStep) => void,
  signal: AbortSignal,
): Promise<GenerationResult> {
  const startedAt = performance.now()
  const { promptTokens } = job
  const last = promptTokens.length - 1
  const prefill = await sequence.controlledEvaluate(
    promptTokens.map((token, i) => (i === last ? withDistribution(token) : plainItem(token))),
  )
  let topK = readTopK(prefill[last], job.topK)
  const promptDoneAt = performance.now()

  const detokenizer = new IncrementalDetokenizer(
    (tokens, lastTokens) => model.detokenize(asLlamaTokens(tokens), false, asLlamaTokens(lastTokens)),
    promptTokens,
  )
  const stops = new StopStringMatcher(job.stop)
  const steps: GenerationStep[] = []
  const outputTokens: number[] = []
  let finishReason: GenerationResult['finishReason'] = 'length'
  let stopAt = -1

  for (let t = 0; t < job.maxTokens; t++) {
    if (signal.aborted) throw new GenerationAbortedError({ cause: signal.reason })
    const token = await job.choose(topK, t)
    if (!Number.isInteger(token) || !topK.some((entry) => entry.id === token))
      throw new InvalidChoiceError(t, token)
    const eog = model.isEogToken(asLlamaToken(token))
    const text = eog ? detokenizer.flush() : detokenizer.push(token)
    const step: GenerationStep = { t, token, text, topK }
    steps.push(step)
    outputTokens.push(token)
    stopAt = stops.append(text)
    emit(step)
    if (eog) {
      finishReason = 'eog'
      break
    }
    if (stopAt >= 0) {
      finishReason = 'stop'
      break
    }
    if (t === job.maxTokens - 1) break
    const next = await sequence.controlledEvaluate([withDistribution(token)])
    topK = readTopK(next[0], job.topK)
  }

  let text = stops.text
  if (finishReason === 'length') text += detokenizer.flush()
  if (stopAt >= 0) text = text.slice(0, stopAt)
  const endedAt = performance.now()
  return {
    promptTokens,
    outputTokens,
    steps,
    text,
    finishReason,
    timings: {
      queueMs: startedAt - job.queuedAt,
      promptMs: promptDoneAt - startedAt,
      generateMs: endedAt - promptDoneAt,
      totalMs: endedAt - job.queuedAt,
    },
  }
}
