import type { TokenLogprob } from './top-k.js'

/**
 * One generated token with the distribution it was drawn from. `topK` is the model's next-token
 * distribution at step `t` (before `token` was appended): natural-log probabilities of the full softmax
 * at temperature 1, sorted by log-prob descending, ties by lower id.
 */
export interface GenerationStep {
  /** 0-based generation step. */
  t: number
  /** The token `choose` picked, one of `topK`'s ids. */
  token: number
  /**
   * Text this step completed. Empty while a multi-byte character is still incomplete; the texts of all
   * steps concatenate to the output text (an end-of-generation token contributes '').
   */
  text: string
  topK: TokenLogprob[]
}

/**
 * Picks the next token from a top-k distribution at step `t`. The provider passes a seeded sampler
 * (`@infraxa/proofs`), so the choice is ours and a verifier can recompute it; it must return one of the
 * ids of `distribution`.
 */
export type ChooseToken = (distribution: readonly TokenLogprob[], t: number) => number | Promise<number>

/** Greedy choice: the most probable token (ties by lower id, as the distribution is ordered). */
export const chooseGreedy: ChooseToken = (distribution) => distribution[0]!.id
