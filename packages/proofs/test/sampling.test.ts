import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { InvalidStepError } from '../src/errors.js'
import {
  createSampler,
  sampleToken,
  samplingKey,
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
})
