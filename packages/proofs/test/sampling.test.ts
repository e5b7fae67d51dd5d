import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { InvalidStepError } from '../src/errors.js'
import {
  createSampler,
  nucleus,
  sampleToken,
  samplingKey,
  samplingParamsOf,
  samplingRuleHolds,
  uniformNoise,
} from '../src/sampling/index.js'
import { LOGPROB_SCALE, quantiseLogprob } from '../src/transcript/index.js'

describe('sampling', () => {
  it('greedy picks the argmax, lowest id on ties', () => {
    expect(sampleToken([5, 3, 9], [-100, -50, -70], { temperature: 0, seed: 0n }, 0)).toBe(3)
    expect(sampleToken([9, 4, 3], [-50, -50, -90], { temperature: 0, seed: 0n }, 0)).toBe(4)
  })

  it('produces fixed noise for a fixed seed (PRF spec vector)', () => {
    const u = uniformNoise(samplingKey(42n), 7, 1234)
    expect(u).toBeGreaterThan(0)
    expect(u).toBeLessThan(1)
    expect(u).toBe(uniformNoise(samplingKey(42n), 7, 1234))
    expect(u).not.toBe(uniformNoise(samplingKey(43n), 7, 1234))
    expect(u).not.toBe(uniformNoise(samplingKey(42n), 8, 1234))
    // Independent recomputation of the documented construction with OpenSSL's HMAC.
    const key = Buffer.alloc(8)
    key.writeBigUInt64BE(42n)
    const msg = Buffer.concat([Buffer.from('infraxa/sample/v1'), Buffer.from([0, 0, 0, 7, 0, 0, 4, 210])])
    const x = createHmac('sha256', key).update(msg).digest().readBigUInt64BE(0)
    expect(u).toBe((Number(x >> 11n) + 0.5) / 2 ** 53)
  })

  it('samples with frequencies that follow softmax(logprob / T) (chi-square, fixed seeds)', () => {
    const logprobs = [-0.5, -1.2, -1.9, -2.3, -3.0, -4.1]
    const ids = [11, 22, 33, 44, 55, 66]
    const q = logprobs.map(quantiseLogprob)
    for (const temperature of [0.7, 1.0, 1.5]) {
      const weights = q.map((v) => Math.exp(v / LOGPROB_SCALE / temperature))
      const total = weights.reduce((a, b) => a + b)
      const n = 20_000
      const counts = new Map(ids.map((id) => [id, 0]))
      for (let t = 0; t < n; t++) {
        const id = sampleToken(ids, q, { temperature, seed: 20261126n }, t)
        counts.set(id, counts.get(id)! + 1)
      }
      let chi2 = 0
      ids.forEach((id, i) => {
        const expected = (n * weights[i]!) / total
        chi2 += (counts.get(id)! - expected) ** 2 / expected
      })
      // 5 degrees of freedom: P(chi2 > 20.52) = 0.001
      expect(chi2).toBeLessThan(20.52)
    }
  })

  it('a committed step satisfies the rule only with the token the rule picks', () => {
    const choose = createSampler({ temperature: 0.9, seed: 5n })
    const topK = [
      { id: 1, logprob: -0.7 },
      { id: 2, logprob: -0.9 },
      { id: 3, logprob: -2 },
    ]
    for (let t = 0; t < 50; t++) {
      const token = choose(topK, t)
      const step = {
        step: t,
        token,
        topIds: [1, 2, 3],
        topLogprobs: topK.map((e) => quantiseLogprob(e.logprob)),
      }
      expect(samplingRuleHolds(step, { temperature: 0.9, seed: 5n })).toBe(true)
      for (const other of [1, 2, 3].filter((id) => id !== token)) {
        expect(samplingRuleHolds({ ...step, token: other }, { temperature: 0.9, seed: 5n })).toBe(false)
      }
      expect(samplingRuleHolds({ ...step, token: 99 }, { temperature: 0.9, seed: 5n })).toBe(false)
    }
  })

  it('rejects bad temperatures and empty candidates with typed errors', () => {
    expect(() => sampleToken([1], [0], { temperature: -1, seed: 0n }, 0)).toThrow(InvalidStepError)
    expect(() => sampleToken([1], [0], { temperature: Number.NaN, seed: 0n }, 0)).toThrow(InvalidStepError)
    expect(() => sampleToken([], [], { temperature: 1, seed: 0n }, 0)).toThrow(InvalidStepError)
  })

  describe('top_p (nucleus)', () => {
    const ids = [5, 3, 9, 7]
    const q = [0.5, 0.3, 0.15, 0.05].map((p) => quantiseLogprob(Math.log(p)))
    const idsOf = (kept: number[]) => kept.map((i) => ids[i])

    it('keeps the smallest most-likely prefix whose probability reaches top_p', () => {
      expect(idsOf(nucleus(ids, q, 0.4))).toEqual([5])
      expect(nucleus([1, 2], [q[3]!, q[3]!], 0.9)).toHaveLength(2) // mass below top_p: everything
      expect(idsOf(nucleus(ids, q, 0.75))).toEqual([5, 3])
      expect(idsOf(nucleus(ids, q, 0.85))).toEqual([5, 3, 9])
      expect(idsOf(nucleus(ids, q, 1))).toEqual([5, 3, 9, 7])
      // Order does not matter, ties go to the lower id.
      const shuffled = [9, 5, 7, 3]
      expect(nucleus(shuffled, [q[2]!, q[0]!, q[3]!, q[1]!], 0.75).map((i) => shuffled[i])).toEqual([5, 3])
      expect(nucleus([8, 2], [q[1]!, q[1]!], 0.2).map((i) => [8, 2][i])).toEqual([2])
    })

    it('samples only inside the nucleus, with frequencies renormalised over it (chi-square)', () => {
      const params = { temperature: 1, seed: 77n, topP: 0.85 }
      const counts = new Map(ids.map((id) => [id, 0]))
      const n = 20_000
      for (let t = 0; t < n; t++) {
        const id = sampleToken(ids, q, params, t)
        counts.set(id, counts.get(id)! + 1)
      }
      expect(counts.get(7)).toBe(0)
      const kept = [0.5, 0.3, 0.15]
      const total = kept.reduce((a, b) => a + b)
      let chi2 = 0
      kept.forEach((p, i) => {
        const expected = (n * p) / total
        chi2 += (counts.get(ids[i]!)! - expected) ** 2 / expected
      })
      // 2 degrees of freedom: P(chi2 > 13.82) = 0.001
      expect(chi2).toBeLessThan(13.82)
    })

    it('a committed step passes only with the nucleus pick; the untruncated pick outside it fails', () => {
      const params = { temperature: 1.5, seed: 9n, topP: 0.6 }
      let outside = 0
      for (let t = 0; t < 400; t++) {
        const step = { step: t, token: sampleToken(ids, q, params, t), topIds: ids, topLogprobs: q }
        expect(samplingRuleHolds(step, params)).toBe(true)
        const untruncated = sampleToken(ids, q, { temperature: 1.5, seed: 9n }, t)
        if (untruncated !== step.token) {
          outside++
          expect(samplingRuleHolds({ ...step, token: untruncated }, params)).toBe(false)
        }
      }
      expect(outside).toBeGreaterThan(50)
    })

    it('reads top_p from a signed request (0 and 1 mean none) and rejects values outside 0..1', () => {
      expect(samplingParamsOf({ temperature: 1, seed: 2n, topP: 0 })).toEqual({ temperature: 1, seed: 2n })
      expect(samplingParamsOf({ temperature: 1, seed: 2n, topP: 1 })).toEqual({ temperature: 1, seed: 2n })
      expect(samplingParamsOf({ temperature: 1, seed: 2n, topP: 0.9 }).topP).toBe(0.9)
      expect(samplingParamsOf(undefined)).toEqual({ temperature: 0, seed: 0n })
      expect(() => sampleToken(ids, q, { temperature: 1, seed: 0n, topP: 1.5 }, 0)).toThrow(InvalidStepError)
      expect(() => createSampler({ temperature: 1, seed: 0n, topP: Number.NaN })).toThrow(InvalidStepError)
    })
  })
})
