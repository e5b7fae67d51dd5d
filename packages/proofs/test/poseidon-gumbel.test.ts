/**
 * The Poseidon-Gumbel sampling rule (`infraxa/zk-sample/v1`): the shared test vectors (the circuit's
 * witness tests read the same file), the pinned Gumbel table, order invariance, the distribution it
 * draws, and how it plugs into the sampler and the rule check.
 */
import { describe, expect, it } from 'vitest'
import { InvalidStepError } from '../src/errors.js'
import {
  createSampler,
  GUMBEL_TABLE,
  gumbelTableHash,
  poseidonGumbelToken,
  poseidonNoise,
  quantiseTemperature,
  SAMPLING_RULE_POSEIDON_GUMBEL,
  sampleToken,
  samplingParamsOf,
  samplingRuleHolds,
} from '../src/sampling/index.js'
import { quantiseLogprob } from '../src/transcript/index.js'
import { poseidonGumbelVectors } from './fixtures/poseidon-gumbel-vectors.js'

const vectors = poseidonGumbelVectors()

const rule = 'poseidon-gumbel' as const

describe('poseidon-gumbel sampling rule', () => {
  it('reproduces every test vector: noise, temperature and token', () => {
    expect(vectors.cases.length).toBe(40)
    for (const v of vectors.cases) {
      const seed = BigInt(v.seed)
      expect(poseidonNoise(seed, v.step).toString()).toBe(v.noise)
      expect(quantiseTemperature(v.temperature)).toBe(v.tau)
      expect(poseidonGumbelToken(v.ids, v.logprobs, v.temperature, seed, v.step)).toBe(v.token)
      expect(sampleToken(v.ids, v.logprobs, { temperature: v.temperature, seed, rule }, v.step)).toBe(v.token)
    }
    // The vectors are not all greedy answers: the noise decides in many of them.
    const greedy = vectors.cases.filter(
      (v) => v.token === sampleToken(v.ids, v.logprobs, { temperature: 0, seed: 0n }, 0),
    ).length
    expect(greedy).toBeLessThan(30)
  })

  it('pins the Gumbel table (part of the specification)', () => {
    expect(gumbelTableHash()).toBe(vectors.gumbelTableSha256)
    expect([GUMBEL_TABLE[0], GUMBEL_TABLE[1023]]).toEqual(vectors.gumbelTableEnds)
    expect(GUMBEL_TABLE.length).toBe(1024)
    for (let u = 1; u < 1024; u++) expect(GUMBEL_TABLE[u]!).toBeGreaterThan(GUMBEL_TABLE[u - 1]!)
  })

  it('does not depend on the order the candidates are committed in', () => {
    for (const v of vectors.cases.slice(0, 10)) {
      const order = v.ids.map((_, i) => i).reverse()
      const ids = order.map((i) => v.ids[i]!)
      const lps = order.map((i) => v.logprobs[i]!)
      expect(poseidonGumbelToken(ids, lps, v.temperature, BigInt(v.seed), v.step)).toBe(v.token)
    }
  })

  it('draws close to softmax at the temperature (total variation < 0.02 over 4,000 seeds)', () => {
    const ids = [3, 9, 1, 7, 5, 2, 8, 4]
    const lps = [-0.1, -1.5, -2.3, -3, -4, -6, -8, -9].map(quantiseLogprob)
    for (const temperature of [0.7, 1.3]) {
      const counts = new Map<number, number>()
      const n = 4000
      for (let s = 0; s < n; s++) {
        const t = poseidonGumbelToken(ids, lps, temperature, BigInt(s), 3)
        counts.set(t, (counts.get(t) ?? 0) + 1)
      }
      const w = lps.map((q) => Math.exp(q / 65536 / temperature))
      const z = w.reduce((a, b) => a + b)
      const tv = ids.reduce((acc, id, i) => acc + Math.abs((counts.get(id) ?? 0) / n - w[i]! / z), 0) / 2
      expect(tv).toBeLessThan(0.02)
    }
  })

  it('is selected by the request’s rule, checked exactly, and refuses top-p', () => {
    expect(
      samplingParamsOf({ temperature: 0.8, seed: 5n, topP: 0, rule: SAMPLING_RULE_POSEIDON_GUMBEL }),
    ).toEqual({
      temperature: 0.8,
      seed: 5n,
      rule,
    })
    expect(samplingParamsOf({ temperature: 0.8, seed: 5n, topP: 0, rule: 0 }).rule).toBeUndefined()
    const v = vectors.cases.find((x) => x.token !== x.ids[0])!
    const step = { step: v.step, token: v.token, topIds: v.ids, topLogprobs: v.logprobs }
    const params = { temperature: v.temperature, seed: BigInt(v.seed), rule }
    expect(samplingRuleHolds(step, params)).toBe(true)
    for (const other of v.ids.filter((id) => id !== v.token)) {
      expect(samplingRuleHolds({ ...step, token: other }, params)).toBe(false)
    }
    expect(() => sampleToken(v.ids, v.logprobs, { ...params, topP: 0.9 }, v.step)).toThrow(InvalidStepError)
    expect(() => sampleToken(v.ids, v.logprobs, { ...params, rule: 'other' as never }, 0)).toThrow(
      InvalidStepError,
    )
    expect(() =>
      sampleToken(
        [
          ...v.ids,
          ...v.ids.map((i) => i + 100_000),
          ...v.ids.map((i) => i + 200_000),
          ...v.ids.map((i) => i + 300_000),
        ],
        [...v.logprobs, ...v.logprobs, ...v.logprobs, ...v.logprobs],
        params,
        0,
      ),
    ).toThrow(InvalidStepError)
    // The engine-side sampler quantises first, then applies the same rule.
    const choose = createSampler(params)
    const topK = v.ids.map((id, i) => ({ id, logprob: v.logprobs[i]! / 65536 }))
    expect(choose(topK, v.step)).toBe(v.token)
  })
})
