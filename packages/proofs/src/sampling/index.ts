/**
 * Verifiable sampling: greedy argmax or seeded Gumbel-max over the committed top-k, optionally truncated
 * to its nucleus (top-p).
 *
 * @example
 * import { createSampler, samplingRuleHolds } from '@infraxa/proofs/sampling'
 * const choose = createSampler({ temperature: 0.7, seed: 42n }) // pass to engine.generate({ choose })
 */
export { canonicalOrder } from '../transcript/leaf.js'
export {
  GUMBEL_BITS,
  GUMBEL_TABLE,
  gumbelTableHash,
  MAX_POSEIDON_GUMBEL_K,
  POSEIDON_GUMBEL_DOMAIN,
  poseidonGumbelScores,
  poseidonGumbelToken,
  poseidonNoise,
  quantiseTemperature,
} from './poseidon-gumbel.js'
export { samplingKey, uniformNoise } from './prf.js'
export {
  createSampler,
  gumbelScores,
  MAX_TEMPERATURE,
  MIN_TEMPERATURE,
  NUCLEUS_EPSILON,
  nucleus,
  SAMPLING_RULE_POSEIDON_GUMBEL,
  type SamplingParams,
  type SamplingRule,
  SCORE_EPSILON,
  sampleToken,
  samplingParamsOf,
  samplingRuleHolds,
  truncates,
} from './sample.js'
