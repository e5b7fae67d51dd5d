import type { ControlledEvaluateIndexOutput, ControlledEvaluateInputItem } from 'node-llama-cpp'
import { asLlamaToken } from './llama-token.js'
import { type TokenLogprob, topKFromSortedProbabilities } from './top-k.js'

/**
 * What node-llama-cpp is asked for at a position whose distribution we need: the probabilities of the
 * full vocabulary, sorted, with no sampler options — i.e. llama.cpp's greedy chain, which transforms no
 * logit, so the probabilities are the plain softmax at temperature 1.
 *
 * Why not `topK: k` in the sampler options (cheaper: k entries instead of the vocabulary)? llama.cpp then
 * renormalises over the k kept tokens, and the result is no longer the full-softmax log-prob that the
 * protocol commits to; node-llama-cpp 3.21.1 has no way to return k entries together with the full
 * normaliser. See docs/calibration.md ("Cost of the distribution") for the measured price.
 */
const DISTRIBUTION_REQUEST = { generateNext: { probabilities: true } } as const

/** A plain evaluation input item (no logits computed). */
export function plainItem(token: number): ControlledEvaluateInputItem {
  return asLlamaToken(token)
}

/** An evaluation input item that also asks for the next-token distribution after `token`. */
export function withDistribution(token: number): ControlledEvaluateInputItem {
  return [asLlamaToken(token), DISTRIBUTION_REQUEST]
}

/**
 * An evaluation input item that asks for the k most likely next tokens *renormalised over those k*
 * (node-llama-cpp's `topK` sampler option): log-prob differences are exact, absolute values are not. About
 * as cheap as no distribution at all, where the full one costs ~5× a decode step on a 32k vocabulary.
 */
export function withRelativeDistribution(token: number, k: number): ControlledEvaluateInputItem {
  return [
    asLlamaToken(token),
    {
      generateNext: { probabilities: true, options: { temperature: 1, topK: k, topP: 1, minP: 0, seed: 0 } },
    },
  ]
}

/** The top-k of the distribution node-llama-cpp returned for one input item. */
export function readTopK(output: ControlledEvaluateIndexOutput | undefined, k: number): TokenLogprob[] {
  const probabilities = output?.next.probabilities
  if (!probabilities) throw new Error('llama.cpp returned no distribution for a requested position')
  return topKFromSortedProbabilities(probabilities, k)
}
